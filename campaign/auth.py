"""System API clients and who may call what (SPEC §4).

A system client is a user in the ``system-clients`` group with a DRF token and no
password: it can call the system API and nothing else, and no token holder who is not
in the group can.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission

SYSTEM_CLIENTS_GROUP = "system-clients"
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def is_system_client(user: AbstractBaseUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(user, "_is_system_client", None)
    if cached is None:
        cached = user.groups.filter(name=SYSTEM_CLIENTS_GROUP).exists()
        user._is_system_client = cached
    return cached


class IsSystemClient(BasePermission):
    """Only system clients (token holders of the system-clients group)."""

    message = "This endpoint is for system API clients (Authorization: Token <key>)."

    def has_permission(self, request, view) -> bool:
        return is_system_client(request.user)


@transaction.atomic
def api_client_create(*, name: str) -> tuple[AbstractBaseUser, str]:
    """Create a system client named ``name`` and return it with its new token key."""
    if not _CLIENT_NAME.match(name):
        raise ValueError("A client name is 1 to 100 letters, digits, '.', '_' or '-'.")
    User = get_user_model()
    username = f"api-{name}"
    if User.objects.filter(username=username).exists():
        raise ValueError(f"An API client named {name!r} already exists.")
    user = User(username=username, is_staff=False, is_superuser=False)
    user.set_unusable_password()
    user.save()
    group, _created = Group.objects.get_or_create(name=SYSTEM_CLIENTS_GROUP)
    user.groups.add(group)
    token = Token.objects.create(user=user)
    return user, token.key
