"""The portal's one clock.

Every rule that asks "now" (the entry window, the data cut-off, the draw after the
period) reads :func:`now`, so a demo or a test can fix the time with ``PORTAL_NOW``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    fixed = getattr(settings, "PORTAL_NOW", None)
    if fixed is not None:
        return fixed
    return timezone.now()
