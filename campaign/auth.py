"""System API clients and who may call what (SPEC §4).

A system client is a user in the ``system-clients`` group with a DRF token and no
password: it can call the system API and nothing else, and no token holder who is not
in the group can.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission

from campaign.prepared import prepared_cursor

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


class SystemTokenAuthentication(TokenAuthentication):
    """DRF's token authentication that also reads whether the token's user is a system client.

    One query instead of two on every system API call (the token with its user, then the group),
    and plain SQL read into the user with ``from_db`` because compiling the equivalent queryset (or
    a raw queryset) cost several times the query itself (bench/load.py). The permission below
    finds the answer already on the user. Nothing is kept between requests, so a deleted token,
    a deactivated user or a user removed from the group is refused on the next call.
    """

    def authenticate_credentials(self, key: str):
        User = get_user_model()
        pk = User._meta.pk.column
        memberships = User.groups.through._meta.db_table
        sql = (
            f"SELECT u.{pk}, u.{User.USERNAME_FIELD}, u.is_active, EXISTS("
            f"  SELECT 1 FROM {memberships} m JOIN {Group._meta.db_table} g ON g.id = m.group_id"
            f"  WHERE m.user_id = u.{pk} AND g.name = %s) AS system_client "
            f"FROM {User._meta.db_table} u JOIN {Token._meta.db_table} t ON t.user_id = u.{pk} "
            f"WHERE t.key = %s"
        )
        with prepared_cursor() as cursor:
            cursor.execute(sql, [SYSTEM_CLIENTS_GROUP, key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        # The fields an API call reads; any other (the password, the dates) loads if read.
        user = User.from_db(connection.alias, [User._meta.pk.attname, User.USERNAME_FIELD, "is_active"], row[:3])
        user.is_active = bool(user.is_active)  # SQLite answers 0/1
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user._is_system_client = bool(row[3])
        token = Token.from_db(None, ["key", "user_id"], [key, user.pk])  # its "created" loads if read
        token.user = user
        return user, token


class IsSystemClient(BasePermission):
    """Only system clients (token holders of the system-clients group)."""

    message = _("This endpoint is for system API clients (Authorization: Token <key>).")

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
