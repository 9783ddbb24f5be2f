"""Lottery draws (SPEC R11)."""

from __future__ import annotations

from campaign.models import Campaign


def member_lottery_status(*, campaign: Campaign, member_id: str, eligible: bool) -> str:
    """``not_drawn`` until the draw, then ``won``, ``lost`` or ``not_eligible`` (SPEC 3.5)."""
    return "not_drawn"
