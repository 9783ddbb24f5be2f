"""The special site in a real browser: Playwright driving Debian's Chromium.

Signs in, enters, plays a video to the end, sees the stamp appear after 更新 (refresh) without a
page reload, switches to English, and takes screenshots of every page at phone and desktop
widths into screenshots/ (git-ignored). Skips without Chromium, fails under CI=true.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.cache import cache

from conftest import chromium_path, need

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PASSWORD = "pw-for-tests-123"  # the UserFactory's
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    need("Chromium", path is not None, "apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test around it are safe (nothing runs concurrently with them in this thread).
    # Set for these tests only: left behind, it would fail `check --deploy` (async.E001) in
    # any later test of the same process.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(in_campaign, live_server):
    """A member with a login and a charge from before entering; the live server's URL."""
    from tests.campaign.factories import MemberFactory, UserFactory
    from tests.missions.factories import charge, score

    user = UserFactory(username="M5000001")
    member = MemberFactory(member_id="M5000001", user=user)
    charge(member, "2026-03-03 08:00", 12000)
    score(in_campaign, member)
    cache.clear()  # no rendered card of an earlier test
    return live_server.url


def _sign_in(page, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "M5000001")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{url}/stamps/")


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_member_signs_in_enters_watches_a_video_and_sees_the_stamp_after_refresh(browser, site):
    from campaign.models import Entry, VideoView

    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    card = context.new_page()
    _sign_in(card, site)
    assert card.locator("#not-entered").is_visible()

    card.goto(f"{site}/entry/")
    card.click("main form[data-once] button[type=submit]")
    card.wait_for_url(f"{site}/stamps/")
    assert Entry.objects.filter(member_id="M5000001").count() == 1
    assert card.locator("#not-entered").count() == 0
    # Entry is retroactive: the charge before it clears casual-1.
    assert card.locator("#stamp-casual-1").get_attribute("data-cleared") == "true"
    assert "0/2本" in card.locator("#stamp-mania-1").inner_text()
    card.evaluate("window.notReloaded = true")

    videos = context.new_page()
    videos.goto(f"{site}/videos/")
    # Seeking to the end does not count.
    # (The test server's static files answer no byte ranges, so Chromium could not seek in them:
    # the video is loaded from a blob, seekable like WhiteNoise's ranged answers in production.)
    videos.evaluate(
        """async () => { const v = document.querySelector('#player-video-2'); v.muted = true;
        const blob = await (await fetch(v.currentSrc || v.querySelector('source').src)).blob();
        v.src = URL.createObjectURL(blob);
        await new Promise(ok => v.addEventListener('loadedmetadata', ok, {once: true}));
        await v.play(); v.currentTime = v.duration - 0.3; }"""
    )
    # Functions, not expressions: Playwright evaluates an expression with eval, which the CSP forbids.
    videos.wait_for_function("() => document.querySelector('#player-video-2').ended", timeout=5000)
    # Playing to the end does.
    videos.evaluate("() => { const v = document.querySelector('#player-video-1'); v.muted = true; return v.play(); }")
    videos.wait_for_selector("#status-video-1.done", timeout=20000)
    assert list(VideoView.objects.values_list("video__code", flat=True)) == ["video-1"]
    assert not videos.locator("#status-video-2").inner_text().strip()

    card.click("#refresh")
    card.wait_for_function(
        "() => document.querySelector('#stamp-mania-1 .seal').textContent.includes('1/2')", timeout=5000
    )
    assert card.evaluate("window.notReloaded") is True
    assert card.locator("#points-limited").inner_text() == "500pt"  # casual-1, mania-7, one video

    card.click("button[name=language][value=en]")
    card.wait_for_load_state()
    assert card.evaluate("document.documentElement.lang") == "en"
    assert "¥12,000" in card.locator("#transactions").locator("xpath=..").inner_text()
    assert "1/2 videos" in card.locator("#stamp-mania-1").inner_text()
    context.close()


PAGES = ["/", "/merchants/", "/entry/", "/stamps/", "/videos/", "/login/", "/signup/"]


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_screenshots_of_every_page(browser, site, width):
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS[width])
    page = context.new_page()
    for path in ("/login/", "/signup/"):
        page.goto(f"{site}{path}")
        assert page.locator("h1").count() == 1
        _screenshot(page, f"{path.strip('/')}-{width}")
    _sign_in(page, site)
    for path in PAGES[:5]:
        response = page.goto(f"{site}{path}")
        assert response.status == 200
        assert page.locator("h1").count() == 1
        # No horizontal scrolling on a phone: the layout fits the width.
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]
        _screenshot(page, f"{path.strip('/') or 'home'}-{width}")
    context.close()
