"""Sign-in with the member ID, demo sign-up, sign-out, and the sign-in rate limit (django-axes)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from campaign.models import Member
from tests.campaign.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


@pytest.fixture
def member_user(campaign):
    user = UserFactory(username="M1000001")
    MemberFactory(member_id="M1000001", user=user)
    return user


def test_a_member_signs_in_with_the_member_id_and_lands_on_the_stamp_card(client, member_user):
    response = client.post("/login/", {"username": "M1000001", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/stamps/"
    assert client.get("/stamps/").status_code == 200


def test_sign_in_returns_to_the_page_asked_for(client, member_user):
    response = client.post("/login/", {"username": "M1000001", "password": PASSWORD, "next": "/videos/"})
    assert response["Location"] == "/videos/"


def test_a_wrong_password_shows_the_form_again(client, member_user):
    response = client.post("/login/", {"username": "M1000001", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_sixth_wrong_sign_in_is_refused_with_429(client, member_user):
    for _attempt in range(5):
        client.post("/login/", {"username": "M1000001", "password": "wrong"})
    response = client.post("/login/", {"username": "M1000001", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another member ID from the same address is not locked out.
    other = UserFactory(username="M1000002")
    MemberFactory(member_id="M1000002", user=other)
    assert client.post("/login/", {"username": "M1000002", "password": PASSWORD}).status_code == 302


def test_sign_up_creates_the_login_of_an_existing_member_and_signs_in(client, campaign):
    MemberFactory(member_id="W0000123")  # the Wesmo! system already sent records of this member
    response = client.post(
        "/signup/", {"member_id": "W0000123", "password1": "kobe-motomachi-77", "password2": "kobe-motomachi-77"}
    )
    assert response.status_code == 302 and response["Location"] == "/entry/"
    member = Member.objects.get(member_id="W0000123")
    assert member.user.username == "W0000123"
    assert member.user.check_password("kobe-motomachi-77")
    assert client.get("/stamps/").status_code == 200


def test_sign_up_creates_a_new_member(client, campaign):
    client.post("/signup/", {"member_id": "NEW-1", "password1": "okayama-hokan-12", "password2": "okayama-hokan-12"})
    assert Member.objects.get(member_id="NEW-1").user is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"member_id": "has space", "password1": "okayama-hokan-12", "password2": "okayama-hokan-12"}, "member_id"),
        ({"member_id": "M1000001", "password1": "okayama-hokan-12", "password2": "okayama-hokan-12"}, "member_id"),
        ({"member_id": "M2", "password1": "okayama-hokan-12", "password2": "okayama-hokan-13"}, "password2"),
        ({"member_id": "M3", "password1": "12345678", "password2": "12345678"}, "password1"),
    ],
    ids=["invalid id", "id taken", "passwords differ", "weak password"],
)
def test_sign_up_refuses_bad_input_and_creates_nothing(client, member_user, data, field):
    users_before = get_user_model().objects.count()
    response = client.post("/signup/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert get_user_model().objects.count() == users_before


def test_sign_out_is_a_post_and_ends_the_session(client, member_user):
    client.force_login(member_user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/stamps/").status_code == 302


def test_sign_in_form_is_csrf_protected(member_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "M1000001", "password": PASSWORD})
    assert response.status_code == 403


def test_staff_pages_are_not_reachable_with_a_member_sign_in(client, member_user):
    client.force_login(member_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get("/admin/campaign/member/").status_code == 302
