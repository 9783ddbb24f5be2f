"""System token authentication: the token, its user and the system-client check in one query, nothing kept."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaign.auth import SYSTEM_CLIENTS_GROUP, SystemTokenAuthentication, api_client_create, is_system_client

pytestmark = pytest.mark.django_db

PROGRESS = "/api/v1/members/M0000001/progress"


@pytest.fixture
def client_and_user(campaign):
    user, key = api_client_create(name="token-test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, user


def test_a_system_token_authenticates_as_its_user_and_token(client_and_user):
    client, user = client_and_user
    key = Token.objects.get(user=user).key
    found, token = SystemTokenAuthentication().authenticate_credentials(key)
    assert (found.pk, found.username, token.key, token.user_id) == (user.pk, "api-token-test", key, user.pk)
    assert is_system_client(found)
    assert token.created == Token.objects.get(user=user).created
    assert client.get(PROGRESS).status_code == 200


def test_authentication_and_the_group_check_are_one_query(client_and_user, django_assert_num_queries):
    client, _user = client_and_user
    client.get(PROGRESS)  # keeps the campaign, courses and missions
    # token with user and group (1), the member's progress document (1)
    with django_assert_num_queries(2):
        assert client.get(PROGRESS).status_code == 200


def test_a_client_removed_from_the_group_is_refused_at_the_next_call(client_and_user):
    client, user = client_and_user
    assert client.get(PROGRESS).status_code == 200
    user.groups.remove(Group.objects.get(name=SYSTEM_CLIENTS_GROUP))
    assert client.get(PROGRESS).status_code == 403


def test_a_deleted_token_is_refused_at_the_next_call(client_and_user):
    client, user = client_and_user
    assert client.get(PROGRESS).status_code == 200
    Token.objects.filter(user=user).delete()
    response = client.get(PROGRESS)
    assert response.status_code == 401


def test_a_deactivated_client_is_refused(client_and_user):
    client, user = client_and_user
    user.is_active = False
    user.save()
    assert client.get(PROGRESS).status_code == 401


def test_a_token_of_a_user_outside_the_group_is_refused(campaign, django_user_model):
    user = django_user_model.objects.create_user("not-a-client")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get(PROGRESS).status_code == 403


def test_a_token_of_a_staff_user_is_refused_in_the_requests_language(campaign):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("operator", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    japanese = client.get(PROGRESS)
    assert japanese.status_code == 403
    assert (
        japanese.json()["detail"]
        == "このエンドポイントはシステムAPIクライアント専用です（Authorization: Token <key>）。"
    )
    english = client.get(PROGRESS, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"] == "This endpoint is for system API clients (Authorization: Token <key>)."
