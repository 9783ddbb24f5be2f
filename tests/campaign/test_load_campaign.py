from __future__ import annotations

import shutil
from datetime import datetime, time, timedelta, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from campaign.models import Campaign
from merchants.models import District, Merchant
from missions.models import Course, Mission, Video

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
JST = timezone(timedelta(hours=9))

R3_REWARDS = {
    "casual-1": 200,
    "casual-2": 300,
    "casual-complete": 500,
    "mania-1": 200,
    "mania-2": 200,
    "mania-3": 200,
    "mania-4": 200,
    "mania-5": 200,
    "mania-6": 1000,
    "mania-7": 200,
    "mania-8": 300,
    "mania-9": 500,
    "mania-10": 1000,
    "bonus-1": 1000,
}


def load(path=None) -> str:
    out = StringIO()
    call_command("load_campaign", *([str(path)] if path else []), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_load_campaign_creates_the_campaign_of_the_spec():
    load()
    campaign = Campaign.objects.get()
    assert campaign.starts_at == datetime(2026, 3, 2, tzinfo=JST)
    assert campaign.ends_at == datetime(2026, 4, 1, tzinfo=JST)
    assert campaign.data_cutoff_at == datetime(2026, 4, 10, 23, 59, 59, tzinfo=JST)
    assert (campaign.lottery_winners, campaign.lottery_prize_points, campaign.lottery_point_type) == (77, 5000, "basic")
    assert list(Course.objects.values_list("code", flat=True)) == ["casual", "mania", "bonus"]
    assert dict(Mission.objects.values_list("code", "reward_points")) == R3_REWARDS
    assert Mission.objects.count() == 14
    assert set(Mission.objects.filter(point_type="limited").values_list("code", flat=True)) == set(R3_REWARDS)
    assert sorted(Video.objects.values_list("code", flat=True)) == ["video-1", "video-2"]


@pytest.mark.django_db
def test_the_course_maxima_of_r3_follow_from_the_missions():
    load()
    maxima = {course.code: sum(m.max_points for m in course.missions.all()) for course in Course.objects.all()}
    assert maxima == {"casual": 1000, "mania": 4000, "bonus": 1000}
    assert sum(maxima.values()) == 6000


@pytest.mark.django_db
def test_mission_rules_are_data():
    load()
    m = {mission.code: mission for mission in Mission.objects.prefetch_related("requires")}
    assert (m["mania-2"].window_start, m["mania-2"].window_end, m["mania-2"].min_amount) == (time(5), time(10), 300)
    assert (m["mania-3"].window_start, m["mania-3"].window_end, m["mania-3"].min_amount) == (time(11), time(14), 800)
    assert m["mania-4"].weekdays == [5, 6, 7]
    assert (m["mania-6"].kind, m["mania-6"].target_count) == ("payment_days", 10)
    assert (m["mania-8"].min_amount, m["mania-8"].target_count) == (5000, 5)
    assert [m[c].min_amount for c in ("mania-7", "mania-9", "mania-10")] == [10000, 50000, 100000]
    assert all(m[c].kind == "charge" for c in ("casual-1", "mania-7", "mania-9", "mania-10"))
    assert (m["mania-1"].kind, m["mania-1"].unit_points, m["mania-1"].target_count) == ("video", 100, 2)
    assert {r.code for r in m["casual-complete"].requires.all()} == {"casual-1", "casual-2"}
    assert m["bonus-1"].bonus_merchants_only and m["bonus-1"].min_amount == 0
    assert {c for c, mission in m.items() if mission.counts_for_lottery} == {f"mania-{i}" for i in range(1, 11)}


@pytest.mark.django_db
def test_the_25_bonus_merchants_are_in_their_districts():
    load()
    assert list(District.objects.values_list("code", flat=True)) == ["motomachi", "nankinmachi", "hokancho"]
    assert Merchant.objects.bonus().count() == 25
    kobe = Merchant.objects.filter(code__startswith="KOBE-")
    assert sorted(kobe.values_list("code", flat=True)) == [f"KOBE-{i:02d}" for i in range(1, 14)]
    assert set(kobe.values_list("district__code", flat=True)) == {"motomachi", "nankinmachi"}
    okayama = Merchant.objects.filter(code__startswith="OKAYAMA-")
    assert sorted(okayama.values_list("code", flat=True)) == [f"OKAYAMA-{i:02d}" for i in range(1, 13)]
    assert set(okayama.values_list("district__code", flat=True)) == {"hokancho"}
    assert Merchant.objects.get(code="OKAYAMA-04").name == "HATTORI BAGEL"
    assert Merchant.objects.get(code="KOBE-12").address == "神戸市中央区元町通 1-4-8"


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    load()
    before = {m.code: m.history.count() for m in Mission.objects.all()}
    out = load()
    assert "created: none; updated: none" in out
    assert {m.code: m.history.count() for m in Mission.objects.all()} == before
    assert Mission.objects.count() == 14 and Merchant.objects.count() == 25


@pytest.mark.django_db
def test_an_edited_seed_file_updates_the_rows(tmp_path):
    load()
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    text = (folder / "campaign.yaml").read_text(encoding="utf-8")
    text = text.replace("min_amount: 3000", "min_amount: 2500", 1)
    (folder / "campaign.yaml").write_text(text, encoding="utf-8")
    merchants = (folder / "merchants.csv").read_text(encoding="utf-8")
    (folder / "merchants.csv").write_text(merchants.replace("HATTORI BAGEL", "HATTORI BAGEL 本店"), encoding="utf-8")
    out = load(folder)
    assert "updated: merchant 1, mission 1" in out
    assert Mission.objects.get(code="mania-5").min_amount == 2500
    assert Merchant.objects.get(code="OKAYAMA-04").name == "HATTORI BAGEL 本店"
    assert Mission.objects.count() == 14


@pytest.mark.django_db
def test_a_broken_seed_file_is_refused_and_changes_nothing(tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    text = (folder / "campaign.yaml").read_text(encoding="utf-8")
    (folder / "campaign.yaml").write_text(text.replace("course: bonus", "course: nowhere"), encoding="utf-8")
    with pytest.raises(CommandError, match="unknown course 'nowhere'"):
        load(folder)
    assert not Campaign.objects.exists() and not Mission.objects.exists()
    with pytest.raises(CommandError, match="no such file"):
        load(tmp_path / "missing")
