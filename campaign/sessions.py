"""Django's database sessions, and a member's user with its member, each read with one plain query.

Every signed-in page reads its session first, then the session's user, then (a member page) the
user's member. Compiling the ORM's query for each cost about 0.4 ms of CPU, several times the
query itself and as much as a whole minimal request (bench/load.py); the reads are also prepared
once per connection (campaign.prepared).
Same table, rows, expiry and writes as Django's own store (settings.SESSION_ENGINE names this
module): only the read differs, so an ended or expired session is refused on the next request.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends import db
from django.db import router
from django.db.models import BooleanField
from django.utils import timezone

from campaign.models import Member
from campaign.prepared import prepared_cursor

# What a member's pages read of the user (the password: Django checks the session's hash of it).
# Any other field (the dates, the names) loads if read.
_USER_FIELDS = ("username", "password", "is_active", "is_staff", "is_superuser")


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        model = self.model
        with prepared_cursor(router.db_for_read(model)) as cursor:
            cursor.execute(
                f"SELECT session_data FROM {model._meta.db_table} WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])


def member_user_read(user_id):
    """The user of a signed-in session with its member (or None) in one query; None if no such user.

    For the member sign-in's backend (campaign.wester_id): ``request.user.member`` is then read
    with the user, so a member page asks no more (campaign.views._member_or_none). Read afresh on
    every request, as Django's backends do: a deleted user, a changed password (the session's
    hash) or a member unlinked from the user shows on the next request.
    """
    User = get_user_model()
    alias = router.db_for_read(User)
    pk = User._meta.pk
    # In the model's order, as from_db() takes a part of the fields.
    fields = [f for f in User._meta.concrete_fields if f.primary_key or f.name in _USER_FIELDS]
    with prepared_cursor(alias) as cursor:
        cursor.execute(
            f"SELECT {', '.join(f'u.{f.column}' for f in fields)}, m.member_id FROM {User._meta.db_table} u "
            f"LEFT JOIN {Member._meta.db_table} m ON m.user_id = u.{pk.column} WHERE u.{pk.column} = %s",
            [pk.to_python(user_id)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        bool(v) if isinstance(f, BooleanField) else v for f, v in zip(fields, row[:-1], strict=True)
    ]  # SQLite: 0/1
    user = User.from_db(alias, [f.attname for f in fields], values)
    member = None
    if row[-1] is not None:
        member = Member.from_db(alias, ["member_id", "user_id"], [row[-1], user.pk])
        Member.user.field.set_cached_value(member, user)
    Member.user.field.remote_field.set_cached_value(user, member)  # user.member, None: no member
    return user
