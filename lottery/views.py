"""The public record of the draw on the special site (/lottery/)."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from campaign.models import Campaign
from lottery import services, verification
from lottery.models import ForfeitStatus


def _get_member_id_for_user(request: HttpRequest) -> str | None:
    """The signed-in customer's own member id, if any: a page only ever shows the viewer's own result."""
    if not request.user.is_authenticated:
        return None
    member = getattr(request.user, "member", None)
    return member.member_id if member is not None else None


def _campaign() -> Campaign:
    try:
        return Campaign.objects.current()
    except Campaign.DoesNotExist:
        raise Http404("No active campaign.") from None


@require_safe
def eligible_list(request: HttpRequest) -> HttpResponse:
    """The frozen eligible list, the exact bytes of ``eligible_hash``, once the seed is revealed.

    Published for the in-browser check of the whole draw; before the draw it is not needed (the
    hash alone commits to it) and not shown.
    """
    draw = services.draw_for_campaign(campaign=_campaign())
    if draw is None or not draw.is_drawn:
        raise Http404
    response = HttpResponse(verification.eligible_list_export(draw=draw), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


def _verification_data(draw, record: dict, winners: list[dict]) -> dict | None:
    """What the page's WebCrypto check compares (static/site/lottery-verify.js): the published values."""
    if draw is None or not draw.is_drawn:
        return None
    return {
        "eligible_url": reverse("lottery-eligible"),
        "eligible_count": record["eligible_count"],
        "eligible_hash": record["eligible_hash"],
        "seed_hash": record["seed_hash"],
        "seed": record["seed"],
        "cutoff_digest": record["cutoff_digest"],
        "winners_count": record["winners_count"],
        "winners": [
            {"rank": w["rank"], "member": w["member"], "digest": w["digest"], "outcome": w["outcome"]} for w in winners
        ],
    }


@require_safe
def lottery_page(request: HttpRequest) -> HttpResponse:
    campaign = _campaign()
    draw = services.draw_for_campaign(campaign=campaign)
    member_id = _get_member_id_for_user(request)
    mine = None
    if member_id is not None:
        mine = {
            "member_id": member_id,
            "status": services.member_lottery_status(campaign=campaign, member_id=member_id, eligible=False),
            "digest": verification.member_digest(seed=bytes.fromhex(draw.seed), member_id=member_id)
            if draw is not None and draw.is_drawn
            else None,
        }
    record = services.lottery_public(campaign=campaign)
    winners = services.winners_public(draw=draw) if draw is not None else []
    return render(
        request,
        "site/lottery.html",
        {
            "campaign": campaign,
            "prize": f"{(draw.prize_points if draw else campaign.lottery_prize_points):,}",
            "draw": draw,
            "record": record,
            "winners": winners,
            # A data attribute, not a <script> block: every script of the site is a static file (CSP).
            "verification_json": json.dumps(_verification_data(draw, record, winners)),
            # The page's Python fetches the list itself: a digest under the cut-off wins only on the list.
            "eligible_list_url": request.build_absolute_uri(reverse("lottery-eligible")),
            "forfeits": [
                {
                    "number": f.number,
                    "member": verification.member_id_mask(f.member_id),
                    "replacement": verification.member_id_mask(f.replacement_member_id),
                    "confirmed_at": f.confirmed_at,
                }
                for f in draw.forfeits.filter(status=ForfeitStatus.CONFIRMED)
            ]
            if draw is not None
            else [],
            "mine": mine,
        },
    )
