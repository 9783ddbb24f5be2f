"""What each irreversible step of the draw will do, shown before it runs (the admin's second click).

A step runs only when the officer types the id the page shows: the draw number for drawing and
confirming, the winner's member ID for a forfeit. The figures come from the frozen draw, so what
the page promises is what the step does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext

from lottery import services
from lottery.models import Draw, DrawStatus, Forfeit

CONFIRM_FIELD = "confirm_id"


@dataclass(frozen=True)
class StepConfirmation:
    title: str
    consequences: list[str]
    expected: str  # what the officer types
    prompt: str
    button: str


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def confirmation_of_draw(draw: Draw) -> StepConfirmation:
    winners = min(draw.winners_count, draw.eligible_count)
    return StepConfirmation(
        title=gettext("Draw the winners of draw #%(number)s?") % {"number": draw.pk},
        consequences=[
            gettext(
                "The %(eligible)s members of the frozen list are ranked by HMAC-SHA256(seed, member ID); "
                "the %(winners)s smallest digests win."
            )
            % {"eligible": _n(draw.eligible_count), "winners": _n(winners)},
            gettext("The secret seed is revealed: anyone can recompute the ranking from the published list."),
            gettext("A second officer then confirms; only then are points awarded."),
            gettext("This cannot be undone or drawn again."),
        ],
        expected=str(draw.pk),
        prompt=gettext("Type the draw number %(number)s to draw.") % {"number": draw.pk},
        button=gettext("Draw the winners"),
    )


def confirmation_of_confirm(draw: Draw) -> StepConfirmation:
    winners = services.current_winners(draw=draw).count()
    return StepConfirmation(
        title=gettext("Confirm draw #%(number)s and award the prizes?") % {"number": draw.pk},
        consequences=[
            gettext("%(winners)s winners are each awarded %(points)s %(type)s points: %(total)s points in total.")
            % {
                "winners": _n(winners),
                "points": _n(draw.prize_points),
                "type": draw.get_point_type_display(),
                "total": _n(winners * draw.prize_points),
            },
            gettext("The points are written to the ledger and go out with the next point export."),
            gettext("Drawn by %(officer)s; you confirm as the second officer.") % {"officer": draw.drawn_by or "—"},
            gettext("This cannot be undone."),
        ],
        expected=str(draw.pk),
        prompt=gettext("Type the draw number %(number)s to confirm.") % {"number": draw.pk},
        button=gettext("Confirm the draw"),
    )


def confirmation_of_forfeit(draw: Draw, *, member_id: str, reason: str) -> StepConfirmation:
    return StepConfirmation(
        title=gettext("Record that winner %(member)s forfeits?") % {"member": member_id},
        consequences=[
            gettext("%(member)s loses the prize (reason: %(reason)s).") % {"member": member_id, "reason": reason},
            gettext("The next member in digest order becomes the replacement winner."),
            gettext("A second officer confirms the forfeit; then the points move. A recorded forfeit stays on record."),
        ],
        expected=member_id,
        prompt=gettext("Type the winner's member ID %(member)s again to record the forfeit.") % {"member": member_id},
        button=gettext("Record the forfeit"),
    )


def confirmation_of_forfeit_confirm(forfeit: Forfeit) -> StepConfirmation:
    draw = forfeit.draw
    values = {"member": forfeit.member_id, "replacement": forfeit.replacement_member_id}
    values["points"] = _n(draw.prize_points)
    # What moves depends on the draw: points exist only once it is confirmed, and a forfeit with
    # nobody left names no replacement. The page promises exactly what the step does.
    if draw.status != DrawStatus.CONFIRMED:
        lost = gettext("%(member)s is no longer a winner; no points have been awarded yet.") % values
        won = gettext("%(replacement)s becomes a winner; the prize is awarded when the draw is confirmed.") % values
    else:
        lost = gettext("%(member)s's prize of %(points)s points is reversed in the ledger.") % values
        won = gettext("%(replacement)s becomes a winner and is awarded %(points)s points.") % values
    if not forfeit.replacement_member_id:
        won = gettext("Nobody replaces %(member)s: no eligible member is left.") % values
    return StepConfirmation(
        title=gettext("Confirm forfeit #%(number)s?") % {"number": forfeit.number},
        consequences=[
            lost,
            won,
            gettext("Recorded by %(officer)s; you confirm as the second officer.") % {"officer": forfeit.recorded_by},
            gettext("This cannot be undone."),
        ],
        expected=forfeit.member_id,
        prompt=gettext("Type the member ID %(member)s of the winner who forfeits to confirm.")
        % {"member": forfeit.member_id},
        button=gettext("Confirm the forfeit"),
    )
