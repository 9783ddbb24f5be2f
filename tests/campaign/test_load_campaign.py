from __future__ import annotations

import shutil
from datetime import datetime, time, timedelta, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.urls import reverse

from campaign.models import Campaign
from campaign.roles import MARKETING
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


def load(path=None, *options: str) -> str:
    out = StringIO()
    call_command("load_campaign", *([str(path)] if path else []), *options, stdout=out)
    return out.getvalue()


def model_to_form(obj) -> dict:
    return {key: ("" if value is None else value) for key, value in model_to_dict(obj).items()}


def edited_seeds(tmp_path) -> Path:
    """A copy of seeds/ where mania-5 needs 2,500 yen and OKAYAMA-04 has a new name."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    text = (folder / "campaign.yaml").read_text(encoding="utf-8")
    (folder / "campaign.yaml").write_text(text.replace("min_amount: 3000", "min_amount: 2500", 1), encoding="utf-8")
    merchants = (folder / "merchants.csv").read_text(encoding="utf-8")
    (folder / "merchants.csv").write_text(merchants.replace("HATTORI BAGEL", "HATTORI BAGEL 本店"), encoding="utf-8")
    return folder


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
def test_an_edited_seed_file_changes_existing_rows_only_with_update(tmp_path):
    load()
    folder = edited_seeds(tmp_path)
    out = load(folder)
    assert "updated: none" in out and "kept as edited: merchant 1, mission 1" in out
    assert Mission.objects.get(code="mania-5").min_amount == 3000
    assert Merchant.objects.get(code="OKAYAMA-04").name == "HATTORI BAGEL"

    out = load(folder, "--update")
    assert "mission mania-5 min_amount: 3000 → 2500" in out
    assert "merchant OKAYAMA-04 name: 'HATTORI BAGEL' → 'HATTORI BAGEL 本店'" in out
    assert out.index("→") < out.index("updated: merchant 1, mission 1")  # the changes come before the summary
    assert Mission.objects.get(code="mania-5").min_amount == 2500
    assert Merchant.objects.get(code="OKAYAMA-04").name == "HATTORI BAGEL 本店"
    assert Mission.objects.count() == 14


@pytest.mark.django_db
def test_a_staff_edit_in_the_admin_survives_loading_the_seeds_again(client, django_user_model):
    load()
    staff = django_user_model.objects.create_user("hanako", password="pw", is_staff=True)
    staff.groups.add(Group.objects.get(name=MARKETING))
    client.force_login(staff)
    merchant = Merchant.objects.get(code="KOBE-02")
    response = client.post(
        reverse("admin:merchants_merchant_change", args=[merchant.pk]),
        {**model_to_form(merchant), "name": "元町ベーカリー 新館"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    out = load()

    merchant.refresh_from_db()
    assert merchant.name == "元町ベーカリー 新館"
    assert "kept as edited: merchant 1" in out
    assert "merchant KOBE-02 name: '元町ベーカリー 新館' → " in out
    assert merchant.history.count() == 2  # created by the seed, changed by hanako: the load added nothing


@pytest.mark.django_db
def test_update_records_who_changed_the_row_in_its_history(tmp_path, django_user_model):
    load()
    operator = django_user_model.objects.create_user("taro", is_staff=True)
    load(edited_seeds(tmp_path), "--update", "--user", "taro")
    latest = Merchant.objects.get(code="OKAYAMA-04").history.first()
    assert (latest.history_user, latest.history_change_reason) == (operator, "load_campaign --update")
    assert latest.diff_against(latest.prev_record).changed_fields == ["name"]
    assert Mission.objects.get(code="mania-5").history.first().history_user == operator


@pytest.mark.django_db
def test_update_without_a_user_names_a_system_user_that_cannot_sign_in(tmp_path, django_user_model):
    load()
    load(edited_seeds(tmp_path), "--update")
    actor = Merchant.objects.get(code="OKAYAMA-04").history.first().history_user
    assert actor.username == "load_campaign"
    assert not actor.is_active and not actor.has_usable_password()


@pytest.mark.django_db
def test_an_unknown_user_for_update_is_refused(tmp_path):
    load()
    with pytest.raises(CommandError, match="--user nobody: no such user"):
        load(edited_seeds(tmp_path), "--update", "--user", "nobody")
    assert Merchant.objects.get(code="OKAYAMA-04").name == "HATTORI BAGEL"


@pytest.mark.django_db
def test_a_dry_run_prints_the_changes_and_saves_nothing(tmp_path):
    load()
    out = load(edited_seeds(tmp_path), "--update", "--dry-run")
    assert "mission mania-5 min_amount: 3000 → 2500" in out and "dry run" in out
    assert Mission.objects.get(code="mania-5").min_amount == 3000
    assert Mission.objects.get(code="mania-5").history.count() == 1


@pytest.mark.django_db
def test_a_changed_requirement_is_kept_unless_update(tmp_path):
    load()
    Mission.objects.get(code="casual-complete").requires.set(Mission.objects.filter(code="casual-1"))
    Mission.objects.filter(code="casual-complete").update(reward_points=600)
    out = load()
    assert "mission casual-complete requires: ['casual-1'] → ['casual-1', 'casual-2']" in out
    assert "mission casual-complete reward_points: 600 → 500" in out
    assert "kept as edited: mission 1 " in out  # one row, however many of its fields differ
    assert set(Mission.objects.get(code="casual-complete").requires.values_list("code", flat=True)) == {"casual-1"}
    load(None, "--update")
    assert set(Mission.objects.get(code="casual-complete").requires.values_list("code", flat=True)) == {
        "casual-1",
        "casual-2",
    }


def test_make_run_loads_the_seeds_without_update():
    """`make run` runs on every start: it must never bring rows back to the seed's values."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    loads = [line.strip() for line in recipe.splitlines() if "load_campaign" in line]
    assert loads == ["$(PY) manage.py load_campaign"]


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
