"""The special site in a real browser: Playwright driving Debian's Chromium.

Signs in, enters, plays a video to the end (and is told why a skipped one did not count), sees
the stamp appear after 更新 (refresh) without a page reload, switches to English. Then every
customer page in every state, at phone and desktop widths, in Japanese and English: axe-core
finds no serious or critical violation at phone width, and the screenshots under
docs/screenshots/ are rewritten. Skips without Chromium, fails under CI=true.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.conftest import VIEWPORTS, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
    sign_in(page, url, "M5000001")
    page.goto(f"{url}/stamps/")


def _screenshot(page, name: str) -> None:
    screenshot(page, name)


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
    # The member is told why it did not count and how to make it count.
    skipped = videos.locator("#status-video-2")
    skipped.wait_for(state="visible")
    assert "カウントされませんでした" in skipped.inner_text() and "最初から最後まで" in skipped.inner_text()
    _screenshot(videos, "videos-skipped-phone")
    # Playing to the end does.
    videos.evaluate("() => { const v = document.querySelector('#player-video-1'); v.muted = true; return v.play(); }")
    videos.wait_for_selector("#status-video-1.done", timeout=20000)
    assert list(VideoView.objects.values_list("video__code", flat=True)) == ["video-1"]

    card.click("#refresh")
    card.wait_for_function(
        "() => document.querySelector('#stamp-mania-1 .seal').textContent.includes('1/2')", timeout=5000
    )
    assert card.evaluate("window.notReloaded") is True
    # One clock: the status names the card's last scoring time in the portal's clock, as the card does.
    status = card.locator("#refresh-status").inner_text()
    assert status.startswith("更新しました") and card.locator("#scored-at").inner_text().strip() in status
    _screenshot(card, "stamps-refreshed-phone")
    assert card.locator("#points-limited").inner_text() == "500pt"  # casual-1, mania-7, one video

    card.click("button[name=language][value=en]")
    card.wait_for_load_state()
    assert card.evaluate("document.documentElement.lang") == "en"
    assert "¥12,000" in card.locator("#transactions").locator("xpath=..").inner_text()
    assert "1/2 videos" in card.locator("#stamp-mania-1").inner_text()
    context.close()
