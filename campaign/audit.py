"""A record of every staff action that changes data, with its actor (admin LogEntry, shown in the admin)."""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models


def staff_action_record(*, user, obj: models.Model, message: str, action_flag: int = CHANGE) -> LogEntry | None:
    """Log ``message`` about ``obj`` as done by ``user`` (no-op for a missing or anonymous user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[obj],
        action_flag=action_flag,
        change_message=message,
        single_object=True,
    )
