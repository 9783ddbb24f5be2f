"""django-axes' records named in the staff member's language on the superuser's pages.

Their ``__str__`` is English with a UTC timestamp ("Access Log for root @ 2026-03-20 03:00:00+00:00"),
and the admin shows it in titles, breadcrumbs, links and the action checkboxes. Loaded with the
admin (at ``AppConfig.ready``), this names them as the back office writes times: 「3月20日(金) 12:00」.
"""

from __future__ import annotations

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.utils.translation import gettext

from campaign.templatetags.site import jst


def _failure(record: AccessFailureLog) -> str:
    text = gettext("Failed sign-in of %(user)s at %(time)s from %(ip)s")
    if record.locked_out:
        text = gettext("Failed sign-in of %(user)s at %(time)s from %(ip)s (locked out)")
    return text % {"user": record.username, "time": jst(record.attempt_time), "ip": record.ip_address}


def _attempt(record: AccessAttempt) -> str:
    return gettext("Failed sign-ins of %(user)s since %(time)s") % {
        "user": record.username,
        "time": jst(record.attempt_time),
    }


def _log(record: AccessLog) -> str:
    return gettext("Sign-in of %(user)s at %(time)s") % {"user": record.username, "time": jst(record.attempt_time)}


AccessFailureLog.__str__ = _failure
AccessAttempt.__str__ = _attempt
AccessLog.__str__ = _log
