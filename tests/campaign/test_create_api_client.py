from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from campaign.auth import is_system_client


@pytest.mark.django_db
def test_create_api_client_prints_the_token_alone_on_the_last_line():
    out = StringIO()
    call_command("create_api_client", "wesmo-system", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    token = Token.objects.get(key=last)
    assert token.user.username == "api-wesmo-system"
    assert is_system_client(token.user)
    assert not token.user.has_usable_password()
    assert not token.user.is_staff


@pytest.mark.django_db
def test_a_client_name_is_used_once_and_must_be_simple():
    call_command("create_api_client", "app", stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_client", "app", stdout=StringIO())
    with pytest.raises(CommandError, match="client name"):
        call_command("create_api_client", "bad name!", stdout=StringIO())
