"""Browser fixtures shared by the Playwright tests: one Chromium, a signed-in page, screenshots, axe-core."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import chromium_path, need

# Committed, so a reviewer sees the site without running it; the browser tests rewrite them when
# PORTAL_SCREENSHOTS is set (``make screenshots``). Otherwise they take none: a third of the
# browser tests' time, spent on files every run rewrote and nobody looked at.
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SCREENSHOTS_TAKEN = bool(os.environ.get("PORTAL_SCREENSHOTS"))
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test that drives Chromium carries the ``browser`` mark, before ``-m`` selects by it
    (CI runs the browser tests in one pass only: .ci/run)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
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


def sign_in(page, url: str, username: str) -> None:
    """The member's session as WESTER ID sign-in leaves it (that flow: test_site_wester_id.py)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])


def screenshot(page, name: str, *, png: bool = False, element=None) -> None:
    """A full-page JPEG (a fifth of a PNG's size: the set is rewritten, and committed, often), or a
    PNG of the page or of one ``element``; only when screenshots are asked for (SCREENSHOTS_TAKEN)."""
    if not SCREENSHOTS_TAKEN:
        return
    path = SCREENSHOTS / f"{name}.{'png' if png else 'jpg'}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if element is not None:
        element.screenshot(path=str(path))
    elif png:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.screenshot(path=str(path), full_page=True, type="jpeg", quality=70)


def axe_serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page, as ``rule: selector`` lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]
