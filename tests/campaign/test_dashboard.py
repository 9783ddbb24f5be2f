"""The campaign dashboard: figures against a known data set, the charts (Chart.js), their tables and CSV files."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaign.dashboard import dashboard_figures
from campaign.dashboard_charts import dashboard_charts
from campaign.forecast import Z_80, forecast_drift
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
        ImportBatch.objects.create(
            campaign=campaign, file_name=f"file-{n:02d}.csv", sha256="0" * 64, accepted=n, rejected=1, rows_total=n + 1
        )
    return campaign


def by_label(bars) -> dict:
    return {bar.label: (bar.value, bar.maximum) for bar in bars}


def chart(charts, key):
    return next(c for c in charts if c.key == key)


def test_figures_match_the_known_data_set(clock, known):
    clock("2026-03-10T12:00:00+09:00")
    figures = dashboard_figures(campaign=known)
    assert figures.entries_total == 3
    # Every JST day from the start to today, the days without entries included.
    assert figures.days == [date(2026, 3, d) for d in range(2, 11)]
    assert figures.entries_by_day == [2, 1, 0, 0, 0, 0, 0, 0, 0]
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
    assert figures.budget == 1_500_000 and figures.lottery_points == 3 * 5000
    assert [b.file_name for b in figures.imports] == [f"file-{n:02d}.csv" for n in range(11, 1, -1)]


def test_clears_and_points_are_counted_per_jst_day(clock, known):
    clock("2026-03-12T12:00:00+09:00")
    Stamp.objects.filter(cleared=True).update(cleared_at=jst("2026-03-04 23:30"))  # 14:30 UTC, the 4th in Japan
    figures = dashboard_figures(campaign=known)
    day = figures.days.index(date(2026, 3, 4))
    assert figures.clears_by_mission_day["casual-1"][day] == 2  # the stamp of D (not entered) is not counted
    assert sum(figures.clears_by_mission_day["casual-1"]) == 2
    ten = figures.days.index(date(2026, 3, 10))
    assert figures.points_by_day["limited"][ten] == 500  # mania-5's award and its reversal cancel out
    assert sum(figures.points_by_day["basic"]) == 0  # the lottery prize is not a mission's pace


def test_the_forecast_is_a_random_walk_with_drift_with_an_80_percent_band():
    forecast = forecast_drift(daily=[100, 200, 300, 200], start_total=800, days_left=2)
    mean, sd, n = 200, math.sqrt(20000 / 3), 4
    assert forecast.expected == [1000, 1200]
    for h, (low, high) in enumerate(zip(forecast.low, forecast.high, strict=True), start=1):
        half = Z_80 * sd * math.sqrt(h * (1 + h / n))
        assert (low, high) == (round(800 + mean * h - half), round(800 + mean * h + half))
    assert forecast.high[1] - forecast.low[1] > forecast.high[0] - forecast.low[0]  # wider further ahead
    assert forecast_drift(daily=[100, 200], start_total=300, days_left=5) is None  # too little history
    assert forecast_drift(daily=[1, 2, 3], start_total=6, days_left=0) is None  # the period is over


def test_the_points_chart_shows_the_forecast_to_the_last_day_and_the_budget(clock, known):
    clock("2026-03-12T12:00:00+09:00")
    figures = dashboard_figures(campaign=known)
    budget = chart(dashboard_charts(campaign=known, figures=figures), "points-budget")
    assert budget.keys[0] == "2026-03-02" and budget.keys[-1] == "2026-03-31"
    actual, expected, low, high, left = (s.values for s in budget.series)
    assert actual[figures.days.index(date(2026, 3, 12))] == 500 and actual[-1] is None
    eleventh = budget.keys.index("2026-03-11")  # the last complete day: the forecast starts there
    assert expected[eleventh] == 500 and expected[eleventh - 1] is None and expected[-1] is not None
    assert all(lo <= e <= hi for lo, e, hi in zip(low[eleventh:], expected[eleventh:], high[eleventh:], strict=True))
    assert set(left) == {1_500_000 - 15_000}
    assert "ランダムウォーク" in budget.note and "80%" in budget.note


def test_after_the_period_nothing_is_forecast_and_the_page_says_why(clock, known):
    clock("2026-04-15T10:00:00+09:00")
    figures = dashboard_figures(campaign=known)
    assert figures.days[-1] == date(2026, 3, 31) and figures.forecast is None
    budget = chart(dashboard_charts(campaign=known, figures=figures), "points-budget")
    assert "期間は終了しました" in budget.note


def test_dashboard_page_draws_every_chart_from_json_with_its_table_and_csv(client, known):
    from django.contrib.auth.models import Group

    from tests.campaign.factories import UserFactory

    user = UserFactory(username="mkt", is_staff=True)
    user.groups.add(Group.objects.get(name="marketing"))
    client.force_login(user)
    response = client.get(reverse("admin:campaign_dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    keys = [c.key for c in response.context["charts"]]
    assert keys == [
        "entries",
        "clears-daily",
        "clears-cumulative",
        "stamps",
        "points-course",
        "points-budget",
        "eligible",
        "imports",
    ]
    for key in keys:
        assert f'<canvas data-chart="{key}"' in page
        config = re.search(rf'<script id="chart-config-{key}" type="application/json">(.*?)</script>', page, re.S)
        assert json.loads(config.group(1))["data"]["datasets"]
        assert reverse("admin:campaign_dashboard_chart_csv", args=[key]) in page
    assert page.count("<summary>表で見る</summary>") == len(keys)
    # The library is ours (no CDN), the drawing code a static file: no inline script for a strict CSP.
    assert "/static/backoffice/vendor/chart.js/chart.umd.min.js" in page and "/static/backoffice/dashboard.js" in page
    assert "cdn" not in page.lower()
    assert not re.search(r"<script(?![^>]*(src=|application/json))[^>]*>", page)
    assert '<strong id="entries-total">3</strong>' in page
    assert "付与ポイント: 期間・用途限定ポイント" in page and "カジュアル" in page
    assert "時点の集計" in page


def test_a_chart_csv_holds_the_table_behind_the_chart(admin_client, clock, known):
    clock("2026-03-05T12:00:00+09:00")
    LedgerLine.objects.all().delete()  # no data after "today": the axis ends today
    response = admin_client.get(reverse("admin:campaign_dashboard_chart_csv", args=["entries"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["日付", "日別エントリー数", "エントリー累計"],
        ["2026-03-02", "2", "2"],
        ["2026-03-03", "1", "3"],
        ["2026-03-04", "0", "3"],
        ["2026-03-05", "0", "3"],
    ]
    assert admin_client.get(reverse("admin:campaign_dashboard_chart_csv", args=["nothing"])).status_code == 404


def test_the_dashboard_csv_has_every_chart_in_japanese_for_excel(admin_client, clock, known):
    clock("2026-03-05T12:00:00+09:00")
    response = admin_client.get(reverse("admin:campaign_dashboard_csv"))
    assert response.content.startswith("\ufeff".encode())  # Excel in Japan reads UTF-8 only with a BOM
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["グラフ", "項目", "系列", "値"]
    table = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert table[("日別エントリー数（日本時間）と累計", "2026-03-03", "日別エントリー数")] == "1"
    assert table[("コース・ポイント種別ごとの付与ポイントと上限", "lottery / basic", "付与ポイント")] == "5000"
    batch = ImportBatch.objects.get(file_name="file-11.csv")
    assert table[("最近の取引ファイル取込", str(batch.pk), "エラー率（%）")] == "8.3"
    # Each chart's rows are its own CSV file's, turned long: the two downloads never disagree.
    for shown in admin_client.get(reverse("admin:campaign_dashboard")).context["charts"]:
        own = admin_client.get(reverse("admin:campaign_dashboard_chart_csv", args=[shown.key]))
        header, *lines = csv.reader(io.StringIO(own.content.decode("utf-8-sig")))
        names = header[1:]
        long = [[shown.title, key, n, v] for key, *values in lines for n, v in zip(names, values, strict=True)]
        assert [r for r in rows[1:] if r[0] == shown.title] == long


def test_the_dashboard_csv_is_in_english_for_english_staff(admin_client, clock, known):
    clock("2026-03-05T12:00:00+09:00")
    response = admin_client.get(reverse("admin:campaign_dashboard_csv"), HTTP_ACCEPT_LANGUAGE="en")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["chart", "key", "series", "value"]
    assert ["Entries per day (JST) and in total", "2026-03-03", "entries per day", "1"] in rows


def test_the_admin_home_links_to_the_dashboard(admin_client, known):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:campaign_dashboard") in page


def test_dashboard_queries_do_not_grow_with_members(known, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        dashboard_figures(campaign=known)


def test_the_page_serves_cached_figures_until_asked_to_recompute(admin_client, known):
    url = reverse("admin:campaign_dashboard")
    assert admin_client.get(url).context["figures"].entries_total == 3
    EntryFactory(campaign=known, member=MemberFactory(member_id="E"))
    assert admin_client.get(url).context["figures"].entries_total == 3
    assert admin_client.get(url + "?refresh=1").context["figures"].entries_total == 4
    ImportBatch.objects.create(campaign=known, file_name="live.csv", sha256="1" * 64)
    assert admin_client.get(url).context["figures"].imports[0].file_name == "live.csv"  # imports are always live
