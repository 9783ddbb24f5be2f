"""Member sign-in without self sign-up: WESTER ID only, the demo sign-in only with DJANGO_DEBUG=1.

(The WESTER ID flow itself is tested against a real provider in test_site_wester_id.py.)
"""

from __future__ import annotations

import pytest

from campaign.models import Member
from tests.campaign.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


@pytest.fixture
def demo_member(campaign):
    user = UserFactory(username="M0000001")
    return MemberFactory(member_id="M0000001", user=user)


def test_there_is_no_self_sign_up_with_debug_on_or_off(client, campaign, settings):
    for debug in (False, True):
        settings.DEBUG = debug
        assert client.get("/signup/").status_code == 404
        assert client.post("/signup/", {"member_id": "W1", "password1": "x", "password2": "x"}).status_code == 404
    assert not Member.objects.filter(member_id="W1").exists()


def test_with_debug_off_the_demo_sign_in_answers_404_and_is_not_offered(client, demo_member, settings):
    settings.DEBUG = False
    assert client.post("/login/demo/", {"member_id": "M0000001"}).status_code == 404
    assert "_auth_user_id" not in client.session
    page = client.get("/login/")
    assert page.status_code == 200
    assert "M0000001" not in page.content.decode()
    assert 'id="demo-sign-in"' not in page.content.decode()


def test_with_debug_on_the_demo_sign_in_signs_in_the_chosen_demo_member(client, demo_member, settings):
    settings.DEBUG = True
    page = client.get("/login/").content.decode()
    assert 'id="demo-sign-in"' in page and 'value="M0000001"' in page
    response = client.post("/login/demo/", {"member_id": "M0000001", "next": "/videos/"})
    assert response.status_code == 302 and response["Location"] == "/videos/"
    assert client.get("/stamps/").status_code == 200


def test_the_demo_sign_in_offers_only_demo_members(client, campaign, settings):
    settings.DEBUG = True
    MemberFactory(member_id="W0000123", user=UserFactory(username="W0000123"))
    assert client.post("/login/demo/", {"member_id": "W0000123"}).status_code == 404
    assert "_auth_user_id" not in client.session


def test_without_a_configured_provider_the_wester_id_sign_in_is_404(client, campaign, settings):
    settings.WESTER_ID_ISSUER = ""
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert 'id="wester-id-unavailable"' in client.get("/login/").content.decode()


def test_members_have_no_password_sign_in(client, demo_member):
    response = client.post("/login/", {"username": "M0000001", "password": PASSWORD})
    assert response.status_code == 405
    assert "_auth_user_id" not in client.session


def test_the_staff_admin_sign_in_still_works(client, campaign):
    UserFactory(username="operations", is_staff=True)
    response = client.post("/admin/login/?next=/admin/", {"username": "operations", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_sixth_wrong_staff_sign_in_is_refused_with_429(client, campaign):
    UserFactory(username="operations", is_staff=True)
    for _attempt in range(5):
        client.post("/admin/login/", {"username": "operations", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "operations", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post_and_ends_the_session(client, demo_member):
    client.force_login(demo_member.user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/stamps/").status_code == 302


def test_the_demo_sign_in_is_csrf_protected(demo_member, settings):
    from django.test import Client

    settings.DEBUG = True
    response = Client(enforce_csrf_checks=True).post("/login/demo/", {"member_id": "M0000001"})
    assert response.status_code == 403


def test_staff_pages_are_not_reachable_with_a_member_sign_in(client, demo_member):
    client.force_login(demo_member.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get("/admin/campaign/member/").status_code == 302
