"""The campaign dashboard: figures against a known data set, the page (SVG + tables) and the CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaign.dashboard import dashboard_figures
from campaign.models import ImportBatch, PointType
from missions.models import LedgerKind, LedgerLine, Mission, Stamp, StampCard
from tests.campaign.factories import EntryFactory, MemberFactory, jst

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_figures():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def known(campaign):
    """Three entered members (A, B, C) and one who has not entered (D), with cards, stamps and ledger lines."""
    a, b, c, d = (MemberFactory(member_id=m) for m in "ABCD")
    EntryFactory(campaign=campaign, member=a, entered_at=jst("2026-03-02 09:00"))
    EntryFactory(campaign=campaign, member=b, entered_at=jst("2026-03-02 23:30"))
    EntryFactory(campaign=campaign, member=c, entered_at=jst("2026-03-03 00:30"))  # still 03-02 in UTC
    StampCard.objects.create(campaign=campaign, member=a, entered=True, stamps_cleared=2, points_limited=500)
    StampCard.objects.create(campaign=campaign, member=b, entered=True, stamps_cleared=13, lottery_eligible=True)
    StampCard.objects.create(campaign=campaign, member=d, entered=False, stamps_cleared=5, lottery_eligible=True)
    missions = {m.code: m for m in Mission.objects.filter(campaign=campaign)}
    for member, code in [(a, "casual-1"), (a, "casual-2"), (b, "casual-1"), (d, "casual-1")]:
        Stamp.objects.create(campaign=campaign, member=member, mission=missions[code], cleared=True)
    Stamp.objects.create(campaign=campaign, member=c, mission=missions["casual-2"], progress=1, target=3)

    def ledger(member, reward, points, kind=LedgerKind.AWARD, point_type=PointType.LIMITED):
        LedgerLine.objects.create(
            campaign=campaign,
            member=member,
            mission=missions.get(reward),
            reward=reward,
            kind=kind,
            points=points,
            point_type=point_type,
            reason=reward,
            occurred_at=jst("2026-03-10 12:00"),
        )

    ledger(a, "casual-1", 200)
    ledger(a, "casual-2", 300)
    ledger(b, "mania-5", 200)
    ledger(b, "mania-5", -200, kind=LedgerKind.REVERSAL)
    ledger(b, "lottery", 5000, point_type=PointType.BASIC)
    for n in range(12):
        ImportBatch.objects.create(campaign=campaign, file_name=f"file-{n:02d}.csv", sha256="0" * 64, accepted=n)
    return campaign


def by_label(bars) -> dict:
    return {bar.label: (bar.value, bar.maximum) for bar in bars}


def test_figures_match_the_known_data_set(known):
    figures = dashboard_figures(campaign=known)
    assert figures.entries_total == 3
    assert by_label(figures.entries_by_day) == {"2026-03-02": (2, None), "2026-03-03": (1, None)}
    stamps = {bar.label: bar.value for bar in figures.members_by_stamps}
    assert stamps["0"] == 1 and stamps["2"] == 1 and stamps["13"] == 1 and stamps["5"] == 0
    assert sum(stamps.values()) == 3
    clears = by_label(figures.clears_by_mission)
    assert clears["casual-1"] == (2, 3) and clears["casual-2"] == (1, 3) and clears["mania-1"] == (0, 3)
    assert list(clears) == list(Mission.objects.filter(campaign=known, is_active=True).values_list("code", flat=True))
    points = by_label(figures.points_by_course)
    assert points["casual / limited"] == (500, 1000 * 3)
    assert points["mania / limited"] == (0, 4000 * 3)
    assert points["bonus / limited"] == (0, 1000 * 3)
    assert points["lottery / basic"] == (5000, 3 * 5000)  # fewer entrants than winners: all could win
    assert figures.points_total == {"limited": 500, "basic": 5000}
    assert figures.lottery_eligible == 1
    assert [b.file_name for b in figures.imports] == [f"file-{n:02d}.csv" for n in range(11, 1, -1)]


def test_dashboard_page_draws_svg_charts_and_tables(admin_client, known):
    response = admin_client.get(reverse("admin:campaign_dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg class="dashboard-chart"') == 4
    assert '<strong id="entries-total">3</strong>' in page
    assert '<strong id="lottery-eligible">1</strong>' in page
    assert "file-11.csv" in page and "file-01.csv" not in page
    assert "<script" not in page.split('id="content-main"')[1].split("</div>")[0]


def test_dashboard_csv_has_the_same_figures(admin_client, known):
    response = admin_client.get(reverse("admin:campaign_dashboard_csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "key", "value", "maximum"]
    table = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert table[("entries", "total")] == ["3", ""]
    assert table[("entries_by_day", "2026-03-03")] == ["1", ""]
    assert table[("clears_by_mission", "casual-1")] == ["2", "3"]
    assert table[("points_by_course", "lottery / basic")] == ["5000", "15000"]
    assert table[("lottery", "eligible")] == ["1", ""]


def test_the_admin_home_links_to_the_dashboard(admin_client, known):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:campaign_dashboard") in page


def test_dashboard_queries_do_not_grow_with_members(known, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        dashboard_figures(campaign=known)


def test_the_page_serves_cached_figures_until_asked_to_recompute(admin_client, known):
    url = reverse("admin:campaign_dashboard")
    assert admin_client.get(url).context["figures"].entries_total == 3
    EntryFactory(campaign=known, member=MemberFactory(member_id="E"))
    assert admin_client.get(url).context["figures"].entries_total == 3
    assert admin_client.get(url + "?refresh=1").context["figures"].entries_total == 4
    ImportBatch.objects.create(campaign=known, file_name="live.csv", sha256="1" * 64)
    assert admin_client.get(url).context["figures"].imports[0].file_name == "live.csv"  # imports are always live
