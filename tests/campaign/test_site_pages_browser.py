"""Every customer page in every state, in Chromium: axe-core at phone width, screenshots at both widths.

States: a visitor, a member who has not entered (no activity), a member who entered (with
activity), and after the campaign ended. Japanese and English. axe-core (the copy shipped by
axe-playwright-python) must find no serious or critical violation at phone width; the
screenshots in docs/screenshots/ are rewritten when PORTAL_SCREENSHOTS is set (``make screenshots``).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.conftest import VIEWPORTS, axe_serious, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGNED_OUT = ["/", "/entry/", "/videos/", "/merchants/", "/faq/", "/lottery/", "/login/", "/no-such-page/"]
PAGES = [*SIGNED_OUT[:2], "/stamps/", "/stamps/history/", *SIGNED_OUT[2:]]
LOCALES = {"ja": "ja-JP", "en": "en-US"}


@pytest.fixture
def members(in_campaign, live_server, settings):
    from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory, jst
    from tests.missions.factories import charge, pay, score

    settings.DEBUG = False  # the pages a customer gets: branded 404, no demo sign-in
    entered = MemberFactory(member_id="M6000001", user=UserFactory(username="M6000001"))
    EntryFactory(member=entered, entered_at=jst("2026-03-04 09:00"))
    charge(entered, "2026-03-03 08:00", 12000)
    pay(entered, "2026-03-05 07:30", 640, merchant="KOBE-03")
    MemberFactory(member_id="M6000002", user=UserFactory(username="M6000002"))
    score(in_campaign, entered)
    cache.clear()
    return live_server.url


def _visit(page, url: str, path: str, width: str) -> None:
    response = page.goto(f"{url}{path}")
    assert response.status == (404 if path == "/no-such-page/" else 200), path
    assert page.locator("h1").count() == 1
    # No horizontal scrolling: the layout fits the width.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"], path


def _name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "home"


@pytest.mark.parametrize("language", list(LOCALES))
@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_every_page_in_every_state_is_accessible_and_photographed(browser, members, clock, width, language):
    found: dict[str, list[str]] = {}
    states = [("visitor", None, SIGNED_OUT), ("not-entered", "M6000002", PAGES), ("entered", "M6000001", PAGES)]
    for state, username, paths in states:
        context = browser.new_context(locale=LOCALES[language], viewport=VIEWPORTS[width])
        page = context.new_page()
        if username:
            sign_in(page, members, username)
        for path in paths:
            _visit(page, members, path, width)
            screenshot(page, f"{language}/{width}/{_name(path)}-{state}")
            if width == "phone":
                found[f"{path} ({state})"] = axe_serious(page)
        context.close()
    clock("2026-04-15 10:00")  # after the period and the data cut-off
    cache.clear()
    context = browser.new_context(locale=LOCALES[language], viewport=VIEWPORTS[width])
    page = context.new_page()
    sign_in(page, members, "M6000002")
    for path in ("/", "/stamps/"):
        _visit(page, members, path, width)
        screenshot(page, f"{language}/{width}/{_name(path)}-ended")
        if width == "phone":
            found[f"{path} (ended)"] = axe_serious(page)
    context.close()
    assert {page: violations for page, violations in found.items() if violations} == {}


def test_the_refresh_button_announces_its_result_and_every_control_shows_focus(browser, members):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    sign_in(page, members, "M6000001")
    page.goto(f"{members}/stamps/")
    status = page.locator("#refresh-status")
    assert status.get_attribute("aria-live") == "polite" and status.get_attribute("role") == "status"
    page.click("#refresh")
    page.wait_for_function("() => document.getElementById('refresh-status').textContent.includes('最終集計')")
    # Keyboard: Tab reaches the controls, and each shows a visible focus outline.
    unstyled, reached = [], set()
    for _step in range(40):
        page.keyboard.press("Tab")
        outline = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.tagName + (e.id ? '#' + e.id : ''), s.outlineStyle, s.outlineWidth]; }"
        )
        reached.add(outline[0])
        if not outline[0].startswith("BODY") and (outline[1] == "none" or outline[2] == "0px"):
            unstyled.append(outline[0])
    assert unstyled == []
    assert {"BUTTON#refresh", "A#contact-link"} <= reached
    context.close()


def test_the_videos_have_a_text_alternative(browser, members):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(f"{members}/videos/")
    for video in page.locator("video").all():
        described = video.get_attribute("aria-describedby")
        transcript = page.locator(f"#{described}").inner_text() if described else ""
        assert video.locator("track[kind=captions][srclang=ja]").count() == 1
        assert video.locator("track[kind=captions][srclang=en]").count() == 1
        assert "字幕" in transcript or "captions" in transcript
        track = video.locator("track[srclang=ja]").get_attribute("src")
        assert page.request.get(f"{members}{track}").text().startswith("WEBVTT")
    context.close()


def test_the_campaign_page_folds_on_a_phone_with_a_countdown_a_sticky_entry_and_a_page_top_link(browser, members):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(f"{members}/")
    assert page.evaluate("document.getElementById('course-casual').open") is True
    assert page.evaluate("document.getElementById('course-mania').open") is False
    # The countdown runs in the portal's clock (15 March 12:00): 16 days 12 hours to 1 April 00:00.
    assert page.locator("#countdown .countdown-value").inner_text().startswith("16日 12時間")
    assert not page.locator("#sticky-entry").is_visible() and not page.locator("#page-top").is_visible()
    page.evaluate("window.scrollTo(0, 2500)")
    page.wait_for_function(
        "() => !document.getElementById('sticky-entry').hidden && !document.getElementById('page-top').hidden"
    )
    page.click("#page-top")
    page.wait_for_function("() => window.scrollY < 50")
    context.close()
    desktop = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["desktop"]).new_page()
    desktop.goto(f"{members}/")
    assert desktop.evaluate("document.getElementById('course-mania').open") is True
    assert not desktop.locator("#sticky-entry").is_visible()
    desktop.context.close()
