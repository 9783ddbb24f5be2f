"""The lottery checked in Chromium with WebCrypto: a real draw matches, a tampered winners list does not."""

from __future__ import annotations

import importlib
import json

import pytest
from django.db import connection

from campaign.models import Member
from lottery import services, verification
from lottery.models import Draw, DrawEntrant, Forfeit
from tests.campaign.factories import UserFactory
from tests.conftest import VIEWPORTS, axe_serious, screenshot, sign_in
from tests.lottery.factories import eligible_members

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drawn(after_cutoff, alice, bob, live_server):
    """120 eligible members (some IDs outside ASCII order quirks), a confirmed draw of 77 winners."""
    ids = eligible_members(after_cutoff, 120)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    draw = services.draw_confirm(draw=draw, user=bob)
    ranked = verification.members_rank(seed=bytes.fromhex(draw.seed), member_ids=ids)
    winner = ranked[0][1]
    Member.objects.filter(member_id=winner).update(user=UserFactory(username=winner))
    yield {"url": live_server.url, "draw": draw, "ranked": ranked, "winner": winner}
    _draws_removed()


def _draws_removed() -> None:
    """Clear the draw for the next test: SQLite's flush deletes rows, which the draw's guards refuse.

    (PostgreSQL's flush truncates, which row triggers do not see.) The guards are put back at once.
    """
    if connection.vendor != "sqlite":
        return
    guards = importlib.import_module("lottery.migrations.0001_initial")
    with connection.cursor() as cursor:
        for sql in guards.SQLITE_UNGUARD:
            cursor.execute(sql)
        Forfeit.objects.all().delete()
        DrawEntrant.objects.all().delete()
        Draw.objects.all().delete()
        for sql in guards.SQLITE_GUARDS:
            cursor.execute(sql)


def _check(page) -> str:
    page.click("#verify-run")
    page.wait_for_function(
        "() => ['match', 'mismatch', 'error'].includes(document.getElementById('verify').dataset.verified)"
    )
    return page.locator("#verify").get_attribute("data-verified")


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_browser_recomputes_a_real_draw_and_finds_it_matches(browser, drawn, width):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS[width])
    page = context.new_page()
    sign_in(page, drawn["url"], drawn["winner"])
    page.goto(f"{drawn['url']}/lottery/")
    assert page.locator("#winner-card").is_visible()
    assert "5,000pt" in page.locator("#winner-card").inner_text()
    assert "確定" in page.locator("#prize-when").inner_text()
    assert _check(page) == "match"
    assert "一致しました" in page.locator("#verify-result").inner_text()
    assert "全120名中 1位" in page.locator("#verify-own").inner_text()
    # The codes and hashes are not cut off on a phone: nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]
    screenshot(page, f"lottery-verified-{width}")
    if width == "phone":
        assert axe_serious(page) == []
    context.close()


def test_a_tampered_winners_list_is_reported_as_not_matching(browser, drawn):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(f"{drawn['url']}/lottery/")
    # The published list names the 78th member in place of the first winner.
    digest, member_id = drawn["ranked"][77]
    data = json.loads(page.locator("#verify").get_attribute("data-lottery"))
    data["winners"][0].update(digest=digest, member=verification.member_id_mask(member_id))
    page.evaluate("data => { document.getElementById('verify').dataset.lottery = data; }", json.dumps(data))
    assert _check(page) == "mismatch"
    result = page.locator("#verify-result").inner_text()
    assert "一致しません" in result
    assert "1位の当選者" in page.locator("#verify-steps").inner_text()
    screenshot(page, "lottery-tampered-phone")
    context.close()
