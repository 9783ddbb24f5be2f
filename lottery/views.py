"""The public record of the draw on the special site (/lottery/)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from campaign.models import Campaign
from lottery import services
from lottery.models import ForfeitStatus


def _get_member_id_for_user(request: HttpRequest) -> str | None:
    """The signed-in customer's own member id, if any: a page only ever shows the viewer's own result."""
    if not request.user.is_authenticated:
        return None
    member = getattr(request.user, "member", None)
    return member.member_id if member is not None else None


@require_safe
def lottery_page(request: HttpRequest) -> HttpResponse:
    try:
        campaign = Campaign.objects.current()
    except Campaign.DoesNotExist:
        raise Http404("No active campaign.") from None
    draw = services.draw_for_campaign(campaign=campaign)
    member_id = _get_member_id_for_user(request)
    mine = None
    if member_id is not None:
        mine = {
            "member_id": member_id,
            "status": services.member_lottery_status(campaign=campaign, member_id=member_id, eligible=False),
            "digest": services.member_digest(seed=bytes.fromhex(draw.seed), member_id=member_id)
            if draw is not None and draw.is_drawn
            else None,
        }
    return render(
        request,
        "site/lottery.html",
        {
            "campaign": campaign,
            "prize": f"{(draw.prize_points if draw else campaign.lottery_prize_points):,}",
            "draw": draw,
            "record": services.lottery_public(campaign=campaign),
            "winners": services.winners_public(draw=draw) if draw is not None else [],
            "forfeits": [
                {
                    "number": f.number,
                    "member": services.member_id_mask(f.member_id),
                    "replacement": services.member_id_mask(f.replacement_member_id),
                    "confirmed_at": f.confirmed_at,
                }
                for f in draw.forfeits.filter(status=ForfeitStatus.CONFIRMED)
            ]
            if draw is not None
            else [],
            "mine": mine,
        },
    )
