"""Signing in, in Chromium: WESTER ID against the test suite's own OpenID Connect provider, and the
demo sign-in that exists only with DJANGO_DEBUG=1."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from campaign.models import Member
from tests.campaign.factories import MemberFactory, UserFactory
from tests.campaign.test_site_wester_id import provider_configure
from tests.conftest import VIEWPORTS, axe_serious, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_signs_in_with_wester_id_in_the_browser(browser, in_campaign, live_server, settings):
    urls = provider_configure(live_server, settings)
    MemberFactory(member_id="W0000123")  # known from imported transactions only
    provider_user = UserFactory(username="wester:W0000123")
    client = Client()
    client.force_login(provider_user)  # signed in at WESTER ID (how is the provider's business)
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": urls["provider"]}])
    page = context.new_page()
    page.goto(f"{urls['portal']}/login/?next=/stamps/")
    assert page.locator("#demo-sign-in").count() == 0  # debug is off
    screenshot(page, "ja/phone/login-wester-id")
    assert axe_serious(page) == []
    page.click("#wester-id-sign-in")
    page.wait_for_url(f"{urls['portal']}/stamps/")
    assert "W0000123" in page.locator("main").inner_text()
    assert Member.objects.get(member_id="W0000123").user.username == "W0000123"
    page.click("nav form button[type=submit]")  # サインアウト: the portal's session, then the provider's
    page.wait_for_url(f"{urls['portal']}/")
    assert page.goto(f"{urls['portal']}/stamps/").url.startswith(f"{urls['portal']}/login/")
    context.close()


def test_the_demo_sign_in_picks_a_demo_member_only_with_debug_on(browser, in_campaign, live_server, settings):
    MemberFactory(member_id="M0000001", user=UserFactory(username="M0000001"))
    context = browser.new_context(locale="ja-JP", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    settings.DEBUG = False
    page.goto(f"{live_server.url}/login/")
    assert page.locator("#demo-sign-in").count() == 0
    settings.DEBUG = True
    page.goto(f"{live_server.url}/login/")
    assert "デモ" in page.locator("#demo-sign-in").inner_text()
    screenshot(page, "ja/phone/login-demo")
    page.click("button[name=member_id][value=M0000001]")
    page.wait_for_url(f"{live_server.url}/stamps/")
    assert "M0000001" in page.locator("main").inner_text()
    assert get_user_model().objects.filter(username="M0000001").count() == 1
    context.close()
