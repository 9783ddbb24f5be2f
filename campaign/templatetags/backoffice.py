"""Filters of the back office: codes shown to staff in words (missions by title, statuses, point types)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext, pgettext

from campaign.models import PointType, TransactionType

register = template.Library()


@register.filter
def title_of(code: str, titles: dict[str, str]) -> str:
    """A mission code → its title (the code itself for an unknown one)."""
    return titles.get(code, code)


@register.filter
def titles_of(codes, titles: dict[str, str]) -> str:
    """Mission codes → their titles, 「A」、「B」."""
    return "、".join(f"「{titles.get(code, code)}」" for code in codes or [])


@register.filter
def point_type_label(value: str) -> str:
    try:
        return str(PointType(value).label)
    except ValueError:
        return value


@register.filter
def transaction_type_label(value: str) -> str:
    try:
        return str(TransactionType(value).label)
    except ValueError:
        return value


@register.filter
def lottery_status_label(value: str) -> str:
    """A member's lottery status (SPEC 3.5) as staff read it."""
    labels = {
        "not_drawn": pgettext("lottery status", "not drawn yet"),
        "won": pgettext("lottery status", "won"),
        "lost": pgettext("lottery status", "not won"),
        "not_eligible": pgettext("lottery status", "not in the draw"),
    }
    return labels.get(value, value)


@register.filter
def yes_no(value: object) -> str:
    return gettext("yes") if value else gettext("no")
