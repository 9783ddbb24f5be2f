"""Filters of the special site: money as 1,000円 / ¥1,000, points as 1,000pt, times in Japan time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import get_language

from campaign.env import JST

register = template.Library()

WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _japanese() -> bool:
    return (get_language() or "ja")[:2] != "en"


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


@register.filter
def yen(value: object) -> str:
    """``1000`` → ``1,000円`` in Japanese, ``¥1,000`` in English."""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    if _japanese():
        return f"{amount:,}円"
    return f"-¥{-amount:,}" if amount < 0 else f"¥{amount:,}"


@register.filter
def pt(value: object) -> str:
    """``1000`` → ``1,000pt`` (both languages write points this way)."""
    try:
        return f"{int(value):,}pt"
    except (TypeError, ValueError):
        return ""


# The styles of |jst, named in campaign/formats/<language>/formats.py (the admin writes its times with the first).
JST_FORMATS = {"datetime": "DATETIME_FORMAT", "date": "WEEKDAY_DATE_FORMAT", "short": "DAY_MONTH_SHORT_FORMAT"}


@register.filter
def jst(value: object, style: str = "datetime") -> str:
    """A time in Japan time: ``3月6日(金) 07:30`` / ``Fri 6 Mar 07:30``; ``style`` = datetime | date | short."""
    when = _as_datetime(value)
    if when is None:
        return ""
    return date_format(when.astimezone(JST), JST_FORMATS[style])


@register.filter
def isodatetime(value: object) -> str:
    when = _as_datetime(value)
    return when.astimezone(JST).isoformat() if when else ""


@register.simple_tag
def campaign_period(campaign) -> str:
    """The period as the announcement writes it: ``2026年3月2日(月)〜3月31日(火)``."""
    start = campaign.starts_at.astimezone(JST)
    last = (campaign.ends_at - timedelta(microseconds=1)).astimezone(JST)
    if _japanese():
        end = f"{last.month}月{last.day}日" if last.year == start.year else f"{last.year}年{last.month}月{last.day}日"
        return (
            f"{start.year}年{start.month}月{start.day}日({WEEKDAYS_JA[start.weekday()]})"
            f"〜{end}({WEEKDAYS_JA[last.weekday()]})"
        )
    return (
        f"{WEEKDAYS_EN[start.weekday()]} {start.day} {MONTHS_EN[start.month - 1]} – "
        f"{WEEKDAYS_EN[last.weekday()]} {last.day} {MONTHS_EN[last.month - 1]} {last.year}"
    )
