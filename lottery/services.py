"""Lottery draws (SPEC R11): the steps that change a draw (commit, draw, confirm, forfeit) and its reads.

The published arithmetic, who is eligible, the check of a stored draw and the files it publishes are
in ``lottery.verification``.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Sum
from django.utils.translation import gettext as _

from campaign import clock
from campaign.audit import staff_action_record
from campaign.env import JST
from campaign.models import Campaign
from campaign.services import Refused
from lottery.models import (
    WINNING_OUTCOMES,
    Draw,
    DrawEntrant,
    DrawStatus,
    Forfeit,
    ForfeitStatus,
    Outcome,
)
from lottery.verification import (
    eligible_hash_compute,
    eligible_member_ids,
    lottery_missions,
    member_id_mask,
    members_rank,
    seed_hash_compute,
    winners_select,
)
from missions.models import LOTTERY_REWARD, LedgerKind, LedgerLine, StampCard

PERMISSION = "lottery.run_draw"


# --- Reads ----------------------------------------------------------------------------------


def draw_for_campaign(*, campaign: Campaign) -> Draw | None:
    return Draw.objects.filter(campaign=campaign).select_related("committed_by", "drawn_by", "confirmed_by").first()


def member_lottery_status(*, campaign: Campaign, member_id: str, eligible: bool) -> str:
    """``not_drawn`` until the draw, then ``won``, ``lost`` or ``not_eligible`` (SPEC 3.5).

    Judged on the frozen list of the draw, not on ``eligible`` (which says whether the member's
    mania course is complete now). One query: the draw's status with this member's outcome.
    """
    row = (
        Draw.objects.filter(campaign=campaign)
        .annotate(
            outcome=Subquery(DrawEntrant.objects.filter(draw=OuterRef("pk"), member_id=member_id).values("outcome")[:1])
        )
        .values_list("status", "outcome")
        .first()
    )
    return lottery_status_of(draw_status=row[0] if row else None, outcome=row[1] if row else None)


def lottery_status_of(*, draw_status: str | None, outcome: str | None) -> str:
    """The status of :func:`member_lottery_status` from the campaign's draw status (None: no draw
    yet) and the member's outcome on its frozen list (None: not on it), for callers that read both
    in a query of their own."""
    if draw_status is None or draw_status == DrawStatus.COMMITTED:
        return "not_drawn"
    if outcome is None:
        return "not_eligible"
    return "won" if outcome in WINNING_OUTCOMES else "lost"


def lottery_public(*, campaign: Campaign) -> dict:
    """The public record of the draw (SPEC 3.3); before a commit, nothing is frozen: counts and hashes are null."""
    draw = Draw.objects.filter(campaign=campaign).first()
    if draw is None:
        return {
            "status": "not_committed",
            "winners_count": campaign.lottery_winners,
            "eligible_count": None,
            "eligible_hash": None,
            "seed_hash": None,
            "seed": None,
            "cutoff_digest": None,
        }
    return {
        "status": draw.status,
        "winners_count": draw.winners_count,
        "eligible_count": draw.eligible_count,
        "eligible_hash": draw.eligible_hash,
        "seed_hash": draw.seed_hash,
        "seed": draw.seed if draw.is_drawn else None,
        "cutoff_digest": (draw.cutoff_digest or None) if draw.is_drawn else None,
    }


def winners_public(*, draw: Draw) -> list[dict]:
    """The result for the public page: winners, forfeits and replacements in digest order, ids masked."""
    if not draw.is_drawn:
        return []
    rows = draw.entrants.filter(outcome__in=[*WINNING_OUTCOMES, Outcome.FORFEITED]).order_by("rank")
    return [
        {"rank": e.rank, "member": member_id_mask(e.member_id), "digest": e.digest, "outcome": e.outcome}
        for e in rows.only("rank", "member_id", "digest", "outcome")
    ]


def current_winners(*, draw: Draw):
    return draw.entrants.filter(outcome__in=WINNING_OUTCOMES).order_by("rank")


# --- Steps ----------------------------------------------------------------------------------


def officer_check(*, user) -> None:
    """Only a member of the lottery group (``lottery.run_draw``) runs draws (SPEC 4)."""
    if user is None or not user.is_active or not user.has_perm(PERMISSION):
        raise Refused("not_an_officer", _("Only a member of the lottery group can do this."))


def _locked(draw: Draw) -> Draw:
    return Draw.objects.select_for_update().get(pk=draw.pk)


def draw_commit(*, campaign: Campaign, user) -> Draw:
    """Freeze the eligible list, create the secret seed and publish their hashes (R11 step 1)."""
    officer_check(user=user)
    now = clock.now()
    if now < campaign.ends_at or now <= campaign.data_cutoff_at:
        raise Refused(
            "too_early",
            _("The draw can be committed only after the period and the data cut-off (%(cutoff)s); it is now %(now)s.")
            % {
                "cutoff": campaign.data_cutoff_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST"),
                "now": now.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST"),
            },
        )
    if not lottery_missions(campaign=campaign).exists():
        raise Refused("no_lottery_missions", _("No active mission is marked as required for the lottery."))
    try:
        with transaction.atomic():
            # Serialise commits of one campaign; the one-to-one key refuses a second draw anyway.
            Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
            if Draw.objects.filter(campaign=campaign).exists():
                raise Refused("already_committed", _("This campaign already has its draw; a draw is never replaced."))
            member_ids = eligible_member_ids(campaign=campaign)
            seed = secrets.token_bytes(32)
            draw = Draw.objects.create(
                campaign=campaign,
                status=DrawStatus.COMMITTED,
                winners_count=campaign.lottery_winners,
                prize_points=campaign.lottery_prize_points,
                point_type=campaign.lottery_point_type,
                eligible_count=len(member_ids),
                eligible_hash=eligible_hash_compute(member_ids),
                seed=seed.hex(),
                seed_hash=seed_hash_compute(seed),
                committed_by=user,
                committed_at=now,
            )
            DrawEntrant.objects.bulk_create((DrawEntrant(draw=draw, member_id=m) for m in member_ids), batch_size=5000)
            staff_action_record(
                user=user,
                obj=draw,
                # Written in the officer's language (Japanese by default): the draw's history page shows it.
                message=_(
                    "Committed the draw: %(eligible)s eligible, "
                    "eligible_hash %(eligible_hash)s, seed_hash %(seed_hash)s"
                )
                % {"eligible": draw.eligible_count, "eligible_hash": draw.eligible_hash, "seed_hash": draw.seed_hash},
            )
    except IntegrityError as exc:
        raise Refused("already_committed", _("This campaign already has its draw; a draw is never replaced.")) from exc
    return draw


def draw_perform_check(*, draw: Draw, user) -> None:
    """Refuse what :func:`draw_perform` would refuse; the admin asks before its confirmation page."""
    officer_check(user=user)
    if draw.status != DrawStatus.COMMITTED:
        raise Refused("already_drawn", _("This draw has been drawn already; a draw is never re-run."))


def draw_perform(*, draw: Draw, user) -> Draw:
    """Rank the frozen list by digest, take the winners and reveal the seed (R11 step 2)."""
    with transaction.atomic():
        draw = _locked(draw)
        draw_perform_check(draw=draw, user=user)
        member_ids = list(draw.entrants.values_list("member_id", flat=True))
        winners = winners_select(seed=bytes.fromhex(draw.seed), member_ids=member_ids, winners_count=draw.winners_count)
        draw.entrants.update(outcome=Outcome.LOST)
        rows = {e.member_id: e for e in draw.entrants.filter(member_id__in=[m for _d, m in winners])}
        for rank, (digest, member_id) in enumerate(winners, start=1):
            entrant = rows[member_id]
            entrant.outcome, entrant.digest, entrant.rank = Outcome.WINNER, digest, rank
        DrawEntrant.objects.bulk_update(rows.values(), ["outcome", "digest", "rank"], batch_size=1000)
        draw.status = DrawStatus.DRAWN
        draw.drawn_by = user
        draw.drawn_at = clock.now()
        draw.cutoff_digest = winners[-1][0] if winners else ""
        draw.save()
        staff_action_record(
            user=user,
            obj=draw,
            message=_("Drew %(winners)s winners; seed %(seed)s, cut-off digest %(digest)s")
            % {"winners": len(winners), "seed": draw.seed, "digest": draw.cutoff_digest or "-"},
        )
    return draw


def draw_confirm_check(*, draw: Draw, user) -> None:
    """Refuse what :func:`draw_confirm` would refuse (four eyes included), before anything is typed."""
    officer_check(user=user)
    if draw.status == DrawStatus.COMMITTED:
        raise Refused("not_drawn", _("The draw has not been drawn yet."))
    if draw.status == DrawStatus.CONFIRMED:
        raise Refused("already_confirmed", _("This draw has been confirmed already."))
    if user.pk in (draw.committed_by_id, draw.drawn_by_id):
        raise Refused(
            "four_eyes",
            _("The draw must be confirmed by another lottery officer than the one who committed or drew it."),
        )


def draw_confirm(*, draw: Draw, user) -> Draw:
    """A second officer confirms; the winners get the prize through the ledger, once (R11 step 3)."""
    with transaction.atomic():
        draw = _locked(draw)
        draw_confirm_check(draw=draw, user=user)
        draw.status = DrawStatus.CONFIRMED
        draw.confirmed_by = user
        draw.confirmed_at = clock.now()
        draw.save()
        winners = list(current_winners(draw=draw).values_list("member_id", flat=True))
        _prize_award(draw=draw, member_ids=winners, when=draw.confirmed_at)
        staff_action_record(
            user=user,
            obj=draw,
            message=_("Confirmed the draw: %(winners)s winners awarded") % {"winners": len(winners)},
        )
    return draw


def _next_in_digest_order(*, draw: Draw) -> tuple[int, str, str] | None:
    """``(rank, digest, member_id)`` of the first member in digest order who has not won or forfeited."""
    taken = set(
        draw.entrants.filter(outcome__in=[*WINNING_OUTCOMES, Outcome.FORFEITED]).values_list("member_id", flat=True)
    )
    ranked = members_rank(seed=bytes.fromhex(draw.seed), member_ids=draw.entrants.values_list("member_id", flat=True))
    for rank, (digest, member_id) in enumerate(ranked, start=1):
        if member_id not in taken:
            return rank, digest, member_id
    return None


def forfeit_record_check(*, draw: Draw, member_id: str, reason: str, user) -> None:
    """Refuse what :func:`forfeit_record` would refuse (an id that is no winner), before anything is typed."""
    officer_check(user=user)
    if not (reason or "").strip():
        raise Refused("reason_missing", _("Give the reason for the forfeit."))
    if not draw.is_drawn:
        raise Refused("not_drawn", _("Only a winner of a drawn draw can forfeit."))
    if draw.forfeits.filter(status=ForfeitStatus.PENDING).exists():
        raise Refused(
            "forfeit_pending", _("Another forfeit waits for confirmation; confirm it before recording the next.")
        )
    member_id = (member_id or "").strip()
    if not draw.entrants.filter(member_id=member_id, outcome__in=WINNING_OUTCOMES).exists():
        raise Refused("not_a_winner", _("%(member)s is not a winner of this draw.") % {"member": member_id})


def forfeit_record(*, draw: Draw, member_id: str, reason: str, user) -> Forfeit:
    """A winner forfeits; the next member in digest order is named to replace them, pending confirmation."""
    reason = (reason or "").strip()
    member_id = (member_id or "").strip()
    with transaction.atomic():
        draw = _locked(draw)
        forfeit_record_check(draw=draw, member_id=member_id, reason=reason, user=user)
        nxt = _next_in_digest_order(draw=draw)
        rank, digest, replacement = nxt if nxt else (None, "", "")
        forfeit = Forfeit.objects.create(
            draw=draw,
            number=draw.forfeits.count() + 1,
            member_id=member_id,
            replacement_member_id=replacement,
            replacement_digest=digest,
            replacement_rank=rank,
            reason=reason,
            recorded_by=user,
            recorded_at=clock.now(),
        )
        staff_action_record(
            user=user,
            obj=draw,
            message=_(
                "Forfeit #%(number)s: %(member)s (%(reason)s); replacement %(replacement)s, waiting for confirmation"
            )
            % {
                "number": forfeit.number,
                "member": member_id,
                "reason": reason,
                "replacement": replacement or _("none left"),
            },
        )
    return forfeit


def forfeit_confirm_check(*, forfeit: Forfeit, user) -> None:
    """Refuse what :func:`forfeit_confirm` would refuse (four eyes included), before anything is typed."""
    officer_check(user=user)
    if forfeit.status != ForfeitStatus.PENDING:
        raise Refused("already_confirmed", _("This forfeit has been confirmed already."))
    if user.pk == forfeit.recorded_by_id:
        raise Refused(
            "four_eyes", _("The forfeit must be confirmed by another lottery officer than the one who recorded it.")
        )


def forfeit_confirm(*, forfeit: Forfeit, user) -> Forfeit:
    """A second officer confirms a forfeit: the replacement wins; the prize moves if the draw is confirmed."""
    with transaction.atomic():
        draw = _locked(forfeit.draw)
        forfeit = Forfeit.objects.select_for_update().get(pk=forfeit.pk)
        forfeit_confirm_check(forfeit=forfeit, user=user)
        now = clock.now()
        draw.entrants.filter(member_id=forfeit.member_id).update(outcome=Outcome.FORFEITED)
        if forfeit.replacement_member_id:
            draw.entrants.filter(member_id=forfeit.replacement_member_id).update(
                outcome=Outcome.REPLACEMENT, digest=forfeit.replacement_digest, rank=forfeit.replacement_rank
            )
        forfeit.status = ForfeitStatus.CONFIRMED
        forfeit.confirmed_by = user
        forfeit.confirmed_at = now
        forfeit.save()
        if draw.status == DrawStatus.CONFIRMED:
            _prize_reverse(draw=draw, member_id=forfeit.member_id, when=now, forfeit=forfeit)
            if forfeit.replacement_member_id:
                _prize_award(draw=draw, member_ids=[forfeit.replacement_member_id], when=now)
        staff_action_record(
            user=user,
            obj=draw,
            message=_("Confirmed forfeit #%(number)s: %(member)s replaced by %(replacement)s")
            % {
                "number": forfeit.number,
                "member": forfeit.member_id,
                "replacement": forfeit.replacement_member_id or _("nobody"),
            },
        )
    return forfeit


# --- The ledger -----------------------------------------------------------------------------


def _prize_award(*, draw: Draw, member_ids: list[str], when: datetime) -> None:
    LedgerLine.objects.bulk_create(
        [
            LedgerLine(
                campaign_id=draw.campaign_id,
                member_id=member_id,
                mission=None,
                reward=LOTTERY_REWARD,
                unit=1,
                generation=1,
                kind=LedgerKind.AWARD,
                points=draw.prize_points,
                point_type=draw.point_type,
                reason=f"lottery prize (draw #{draw.pk})",
                occurred_at=when,
            )
            for member_id in member_ids
        ],
        ignore_conflicts=True,  # the ledger's unique key: each winner is awarded once, whatever retries do
    )
    _cards_refresh(campaign_id=draw.campaign_id, member_ids=member_ids)


def _prize_reverse(*, draw: Draw, member_id: str, when: datetime, forfeit: Forfeit) -> None:
    awarded = LedgerLine.objects.filter(
        campaign_id=draw.campaign_id, member_id=member_id, reward=LOTTERY_REWARD, kind=LedgerKind.AWARD
    ).first()
    if awarded is None:
        return
    LedgerLine.objects.bulk_create(
        [
            LedgerLine(
                campaign_id=draw.campaign_id,
                member_id=member_id,
                mission=None,
                reward=LOTTERY_REWARD,
                unit=1,
                generation=awarded.generation,
                kind=LedgerKind.REVERSAL,
                points=-awarded.points,
                point_type=awarded.point_type,
                reason=f"lottery prize forfeited (draw #{draw.pk}, forfeit #{forfeit.number})"[:200],
                occurred_at=when,
            )
        ],
        ignore_conflicts=True,
    )
    _cards_refresh(campaign_id=draw.campaign_id, member_ids=[member_id])


def _cards_refresh(*, campaign_id: int, member_ids: list[str]) -> None:
    """Show the new balance on the stamp cards at once (the scoring engine computes the same sums)."""
    sums: dict[str, dict[str, int]] = {m: {"basic": 0, "limited": 0} for m in member_ids}
    for member_id, point_type, points in (
        LedgerLine.objects.filter(campaign_id=campaign_id, member_id__in=member_ids)
        .values("member_id", "point_type")
        .annotate(points=Sum("points"))
        .values_list("member_id", "point_type", "points")
    ):
        sums[member_id][point_type] = points
    for member_id, balance in sums.items():
        StampCard.objects.filter(campaign_id=campaign_id, member_id=member_id).update(
            points_basic=balance.get("basic", 0), points_limited=balance.get("limited", 0)
        )
