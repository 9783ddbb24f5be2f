"""The back office in a real browser, as each staff role uses it (with PORTAL_SCREENSHOTS: docs/screenshots/admin/).

Marketing reads the dashboard (Chart.js draws every chart; 表で見る opens the table), checks the
merchant list at 1280 px and previews a rule change; operations open a member; two lottery
officers draw, confirm and handle a forfeit, each step with the draw number or member ID typed.
Skips without Chromium, fails under CI=true.
"""

from __future__ import annotations

import re
from importlib import import_module
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from campaign.roles import LOTTERY, MARKETING, OPERATIONS, staff_roles_sync
from lottery.models import Draw, DrawStatus, Forfeit
from lottery.services import current_winners, draw_commit
from missions.models import Mission
from tests.campaign.factories import UserFactory
from tests.conftest import axe_serious, screenshot
from tests.lottery.factories import eligible_members

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"  # the UserFactory's
DESKTOP = {"width": 1280, "height": 900}


def _shot(page, name: str) -> None:
    screenshot(page, f"admin/{name}", png=True)


def _staff(role: str):
    user = UserFactory(username=f"{role}-officer", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _sign_in(browser, url: str, user):
    context = browser.new_context(locale="ja-JP", viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}/admin/")
    return context, page


@pytest.fixture
def running(clock, campaign, live_server):
    """The demo month (a few hundred members) on 2026-03-20 12:00 JST."""
    clock("2026-03-20T12:00:00+09:00")
    staff_roles_sync()  # a transactional test's flush empties the groups the migration made
    call_command("demo_data", "--members", "400", stdout=StringIO())
    cache.clear()
    return live_server.url


def test_marketing_reads_the_dashboard_and_checks_the_merchants_and_a_rule_change(browser, running):
    context, page = _sign_in(browser, running, _staff(MARKETING))
    page.goto(f"{running}/admin/campaign/campaign/dashboard/")
    page.wait_for_function("() => document.querySelectorAll('canvas[data-drawn=\"1\"]').length === 8", timeout=15000)
    assert "時点の集計" in page.locator(".computed-at").inner_text()
    _shot(page, "marketing-dashboard")
    entries = page.locator("#chart-entries details")
    entries.locator("summary").click()
    assert entries.locator("tbody tr").count() >= 19  # every day from 3/2 to 3/20, zero days included
    assert "3/8(日)" in entries.inner_text()  # the maintenance day, with no entry
    screenshot(page, "admin/marketing-dashboard-table", png=True, element=entries)

    page.goto(f"{running}/admin/merchants/merchant/")
    # At 1280 px every column is on screen (the list does not scroll sideways) and an address keeps its words together.
    right = page.evaluate("document.querySelector('th.column-is_active').getBoundingClientRect().right")
    assert right <= DESKTOP["width"]
    assert page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('#changelist .results'))")
    address = page.locator("td.field-address").first.bounding_box()
    assert address["width"] > 150
    _shot(page, "marketing-merchants-1280")

    page.goto(f"{running}/admin/missions/mission/")
    _shot(page, "marketing-missions")
    page.goto(f"{running}/admin/missions/mission/{Mission.objects.get(code='mania-6').pk}/change/")
    page.fill("#id_target_count", "6")
    page.click("input[name=_save]")
    page.wait_for_selector("#dry-run")
    assert "10 日間" in page.locator("#text-warnings").inner_text()
    # The changed stamps split into new / withdrawn / progress-only, and the parts add up to the total.
    figure = {
        key: int(page.locator(f"#{key}").inner_text().replace(",", ""))
        for key in ("stamps-changed", "stamps-new", "stamps-withdrawn", "stamps-progress")
    }
    assert figure["stamps-changed"] == figure["stamps-new"] + figure["stamps-withdrawn"] + figure["stamps-progress"]
    assert figure["stamps-new"] > 0  # 400 members: some paid on 6 days but not 10
    # The affected members are listed; marketing may not open member pages, so they are not links (403).
    assert page.locator("#affected-members tbody tr").count() > 0
    assert page.locator("#affected-members a[href*='/admin/campaign/member/']").count() == 0
    _shot(page, "marketing-rule-change-preview")
    context.close()


def test_operations_open_a_member_in_japanese(browser, running):
    context, page = _sign_in(browser, running, _staff(OPERATIONS))
    page.goto(f"{running}/admin/campaign/member/M0000001/change/")
    card = page.locator("#stamp-card").inner_text()
    assert "抽選前" in card and "not_drawn" not in card
    assert "3月2日(月)" in page.locator("#transactions-explained").inner_text()
    _shot(page, "operations-member")
    context.close()


@pytest.fixture
def draw_removed_afterwards(running):
    """A transactional test's flush deletes rows, which SQLite's draw guards refuse: lift them for the cleanup.

    (PostgreSQL flushes with TRUNCATE, which row triggers do not see.)
    """
    yield
    if connection.vendor != "sqlite":
        return
    guards = import_module("lottery.migrations.0001_initial")
    with connection.cursor() as cursor:
        for statement in guards.SQLITE_UNGUARD:
            cursor.execute(statement)
        for table in ("lottery_forfeit", "lottery_drawentrant", "lottery_draw"):
            cursor.execute(f"DELETE FROM {table}")
        for statement in guards.SQLITE_GUARDS:
            cursor.execute(statement)


@pytest.mark.usefixtures("draw_removed_afterwards")
def test_two_lottery_officers_draw_confirm_and_handle_a_forfeit_typing_the_ids(
    browser,
    running,
    campaign,
    clock,
):
    clock("2026-04-15T10:00:00+09:00")
    eligible_members(campaign, 120, prefix="L")
    officer = _staff(LOTTERY)
    second = UserFactory(username="lottery-second", is_staff=True)
    second.groups.add(Group.objects.get(name=LOTTERY))
    draw = draw_commit(campaign=campaign, user=officer)
    context, page = _sign_in(browser, running, officer)
    page.goto(f"{running}/admin/lottery/draw/{draw.pk}/change/")
    _shot(page, "lottery-draw-committed")
    page.click("input[name=draw]")
    page.wait_for_selector("#consequences")
    assert Draw.objects.get().status == DrawStatus.COMMITTED
    _shot(page, "lottery-draw-confirmation")
    page.fill("#id_confirm_id", str(draw.pk))
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector("#lottery-winners")
    assert Draw.objects.get().status == DrawStatus.DRAWN
    _shot(page, "lottery-drawn")
    context.close()

    # The second officer confirms: the page says how many points go out before they do.
    context, page = _sign_in(browser, running, second)
    page.goto(f"{running}/admin/lottery/draw/{draw.pk}/change/")
    page.click("input[name=confirm]")
    page.wait_for_selector("#consequences")
    assert "385,000" in page.locator("#consequences").inner_text()
    _shot(page, "lottery-confirm-confirmation")
    page.fill("#id_confirm_id", str(draw.pk))
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector("#lottery-winners")
    assert Draw.objects.get().status == DrawStatus.CONFIRMED

    # A winner forfeits: the member ID is typed again before it is recorded.
    winner = current_winners(draw=draw).first().member_id
    page.fill("#id_member_id", winner)
    page.fill("#id_reason", "連絡がつかないため")
    page.click("input[name=forfeit]")
    page.wait_for_selector("#consequences")
    _shot(page, "lottery-forfeit-confirmation")
    page.fill("#id_confirm_id", winner)
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector("input[name=confirm_forfeit]")
    assert Forfeit.objects.get().member_id == winner
    context.close()

    # The first officer confirms the forfeit the second recorded.
    context, page = _sign_in(browser, running, officer)
    page.goto(f"{running}/admin/lottery/draw/{draw.pk}/change/")
    page.click("input[name=confirm_forfeit]")
    page.wait_for_selector("#consequences")
    page.fill("#id_confirm_id", winner)
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector("#lottery-forfeits")
    assert Forfeit.objects.get().status == "confirmed"
    _shot(page, "lottery-forfeit-confirmed")
    context.close()


@pytest.mark.parametrize("role", [MARKETING, OPERATIONS, LOTTERY, "superuser"])
def test_every_list_of_every_role_reads_at_1280_px(browser, running, role):
    """No list scrolls sideways at 1280 px, ids and amounts stay on one line, no time is ISO."""
    user = UserFactory(username="root-lists", is_staff=True, is_superuser=True) if role == "superuser" else _staff(role)
    context, page = _sign_in(browser, running, user)
    lists = page.eval_on_selector_all(
        "#content-main a[href$='/']",
        "links => [...new Set(links.map(a => a.getAttribute('href')))].filter(h => h.split('/').length === 5)",
    )
    assert lists
    cramped = {}
    for path in lists:
        page.goto(f"{running}{path}")
        if not page.locator("#result_list").count():
            continue
        fits = page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('#changelist .results'))")
        # Ids, codes, amounts and times do not wrap (admin.css): one line each, so a list that fits reads whole.
        wrapped = page.evaluate(
            """() => [...document.querySelectorAll('#result_list td')]
                 .filter(td => /field-(amount|transaction_id|\\w+_at)\\b/.test(td.className))
                 .some(td => getComputedStyle(td).whiteSpace !== 'nowrap')"""
        )
        text = page.locator("#result_list").inner_text()
        if not fits or wrapped or re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
            cramped[path] = (fits, wrapped)
    if role == OPERATIONS:
        page.goto(f"{running}/admin/campaign/transaction/")
        _shot(page, "operations-transactions-1280")
    assert not cramped, cramped
    context.close()


# The pages each role opens most; Django's own markup passes axe here but for what admin.css and our templates fix.
MOST_USED = {
    MARKETING: [
        "/admin/",
        "/admin/campaign/campaign/dashboard/",
        "/admin/merchants/merchant/",
        "/admin/missions/mission/",
    ],
    OPERATIONS: [
        "/admin/",
        "/admin/campaign/transaction/",
        "/admin/campaign/importbatch/",
        "/admin/campaign/importbatch/upload/",
        "/admin/campaign/member/",
    ],
    LOTTERY: ["/admin/", "/admin/lottery/draw/"],
}


@pytest.mark.parametrize("role", MOST_USED)
def test_the_pages_each_role_uses_most_pass_axe(browser, running, role):
    context, page = _sign_in(browser, running, _staff(role))
    found = {}
    for path in MOST_USED[role]:
        assert page.goto(f"{running}{path}").status == 200, path
        found[path] = axe_serious(page)
    assert found == {path: [] for path in MOST_USED[role]}
    context.close()
