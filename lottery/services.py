"""Lottery draws (SPEC R11): commit, draw, confirm, forfeit, verify and export.

The arithmetic is the published one (docs/lottery-verification.md), so anyone can redo it:

- ``eligible_hash`` = SHA-256 hex of the eligible member ids sorted by code point, each followed
  by ``\\n``, UTF-8;
- ``seed`` = 32 bytes from :mod:`secrets`, published after the draw as 64 lowercase hex characters;
  ``seed_hash`` = SHA-256 hex of those 32 bytes;
- a member's ``digest`` = HMAC-SHA256(key=seed, message=member id in UTF-8), hex; the winners are
  the ``winners_count`` smallest digests, in digest order; ``cutoff_digest`` is the last winner's.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils.translation import gettext as _

from campaign import clock
from campaign.audit import staff_action_record
from campaign.env import JST
from campaign.models import Campaign, Entry
from campaign.services import Refused
from campaign.spreadsheet import row_escape
from lottery.models import (
    WINNING_OUTCOMES,
    Draw,
    DrawEntrant,
    DrawStatus,
    Forfeit,
    ForfeitStatus,
    Outcome,
)
from missions.models import LedgerKind, LedgerLine, Mission, Stamp, StampCard

LOTTERY_REWARD = "lottery"
PERMISSION = "lottery.run_draw"
EXPORT_ENCODINGS = ("utf-8", "cp932")


# --- The published arithmetic (pure functions) -------------------------------------------------


def eligible_hash_compute(member_ids: Iterable[str]) -> str:
    return hashlib.sha256("".join(f"{m}\n" for m in sorted(member_ids)).encode("utf-8")).hexdigest()


def seed_hash_compute(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def member_digest(*, seed: bytes, member_id: str) -> str:
    return hmac.new(seed, member_id.encode("utf-8"), hashlib.sha256).hexdigest()


def members_rank(*, seed: bytes, member_ids: Iterable[str]) -> list[tuple[str, str]]:
    """Every member as ``(digest, member_id)`` in digest order (ties, never seen in practice, by id)."""
    return sorted((member_digest(seed=seed, member_id=m), m) for m in set(member_ids))


def winners_select(*, seed: bytes, member_ids: Iterable[str], winners_count: int) -> list[tuple[str, str]]:
    """The ``winners_count`` smallest digests, in digest order (fewer eligible: all of them)."""
    return members_rank(seed=seed, member_ids=member_ids)[:winners_count]


def member_id_mask(member_id: str) -> str:
    """``M00****23``: enough for a member to recognise their id, not enough to identify anyone."""
    keep = len(member_id) // 3
    head, tail = min(3, keep), min(2, keep)
    if keep == 0:
        return "*" * len(member_id)
    return member_id[:head] + "*" * (len(member_id) - head - tail) + member_id[len(member_id) - tail :]


# --- Reads ----------------------------------------------------------------------------------


def lottery_missions(*, campaign: Campaign):
    return Mission.objects.filter(campaign=campaign, is_active=True, counts_for_lottery=True)


def eligible_member_ids(*, campaign: Campaign) -> list[str]:
    """Entered members who cleared every active lottery mission, from the stamps (set-based)."""
    missions = lottery_missions(campaign=campaign)
    required = missions.count()
    if required == 0:
        return []
    rows = (
        Stamp.objects.filter(
            campaign=campaign,
            mission__in=missions,
            cleared=True,
            member_id__in=Entry.objects.filter(campaign=campaign).values("member_id"),
        )
        .values("member_id")
        .annotate(cleared_count=Count("mission_id", distinct=True))
        .filter(cleared_count=required)
        .values_list("member_id", flat=True)
    )
    return sorted(rows)


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


def draw_perform(*, draw: Draw, user) -> Draw:
    """Rank the frozen list by digest, take the winners and reveal the seed (R11 step 2)."""
    officer_check(user=user)
    with transaction.atomic():
        draw = _locked(draw)
        if draw.status != DrawStatus.COMMITTED:
            raise Refused("already_drawn", _("This draw has been drawn already; a draw is never re-run."))
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


def draw_confirm(*, draw: Draw, user) -> Draw:
    """A second officer confirms; the winners get the prize through the ledger, once (R11 step 3)."""
    officer_check(user=user)
    with transaction.atomic():
        draw = _locked(draw)
        if draw.status == DrawStatus.COMMITTED:
            raise Refused("not_drawn", _("The draw has not been drawn yet."))
        if draw.status == DrawStatus.CONFIRMED:
            raise Refused("already_confirmed", _("This draw has been confirmed already."))
        if user.pk in (draw.committed_by_id, draw.drawn_by_id):
            raise Refused(
                "four_eyes",
                _("The draw must be confirmed by another lottery officer than the one who committed or drew it."),
            )
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


def forfeit_record(*, draw: Draw, member_id: str, reason: str, user) -> Forfeit:
    """A winner forfeits; the next member in digest order is named to replace them, pending confirmation."""
    officer_check(user=user)
    reason = (reason or "").strip()
    if not reason:
        raise Refused("reason_missing", _("Give the reason for the forfeit."))
    member_id = (member_id or "").strip()
    with transaction.atomic():
        draw = _locked(draw)
        if not draw.is_drawn:
            raise Refused("not_drawn", _("Only a winner of a drawn draw can forfeit."))
        if draw.forfeits.filter(status=ForfeitStatus.PENDING).exists():
            raise Refused(
                "forfeit_pending", _("Another forfeit waits for confirmation; confirm it before recording the next.")
            )
        if not draw.entrants.filter(member_id=member_id, outcome__in=WINNING_OUTCOMES).exists():
            raise Refused("not_a_winner", _("%(member)s is not a winner of this draw.") % {"member": member_id})
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


def forfeit_confirm(*, forfeit: Forfeit, user) -> Forfeit:
    """A second officer confirms a forfeit: the replacement wins; the prize moves if the draw is confirmed."""
    officer_check(user=user)
    with transaction.atomic():
        draw = _locked(forfeit.draw)
        forfeit = Forfeit.objects.select_for_update().get(pk=forfeit.pk)
        if forfeit.status != ForfeitStatus.PENDING:
            raise Refused("already_confirmed", _("This forfeit has been confirmed already."))
        if user.pk == forfeit.recorded_by_id:
            raise Refused(
                "four_eyes", _("The forfeit must be confirmed by another lottery officer than the one who recorded it.")
            )
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


# --- Verification ---------------------------------------------------------------------------


@dataclass
class Verification:
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _listed(items: Iterable[str], limit: int = 10) -> str:
    items = sorted(items)
    shown = ", ".join(items[:limit])
    return shown + (f" … ({len(items)} in all)" if len(items) > limit else "")


def draw_verify(*, draw: Draw) -> Verification:
    """Recompute R11 from the stored seed and the frozen list; report each stored value that differs."""
    report = Verification()
    diff = report.differences.append
    draw = Draw.objects.select_related("campaign").get(pk=draw.pk)
    entrants = list(draw.entrants.values_list("member_id", "outcome", "digest", "rank"))
    member_ids = [e[0] for e in entrants]

    eligible_hash = eligible_hash_compute(member_ids)
    if eligible_hash != draw.eligible_hash:
        diff(f"eligible_hash: stored {draw.eligible_hash}, recomputed from the frozen list {eligible_hash}")
    if len(member_ids) != draw.eligible_count:
        diff(f"eligible_count: stored {draw.eligible_count}, frozen list has {len(member_ids)}")
    try:
        seed = bytes.fromhex(draw.seed)
    except ValueError:
        diff(f"seed: {draw.seed!r} is not hex")
        return report
    if len(seed) != 32:
        diff(f"seed: {len(seed)} bytes, not 32")
    if seed_hash_compute(seed) != draw.seed_hash:
        diff(f"seed_hash: stored {draw.seed_hash}, SHA-256 of the stored seed is {seed_hash_compute(seed)}")

    current = eligible_member_ids(campaign=draw.campaign)
    if set(current) != set(member_ids):
        report.warnings.append(
            f"the stamps today differ from the frozen list: {len(set(current) - set(member_ids))} eligible now "
            f"but not frozen, {len(set(member_ids) - set(current))} frozen but not eligible now "
            "(late corrections after the commit; the draw uses the frozen list)"
        )

    if not draw.is_drawn:
        if any(e[1] != Outcome.ELIGIBLE for e in entrants):
            diff("outcomes: the draw is not drawn, yet some members have an outcome")
        return report

    ranked = members_rank(seed=seed, member_ids=member_ids)
    position = {m: (rank, digest) for rank, (digest, m) in enumerate(ranked, start=1)}
    initial = [m for _d, m in ranked[: draw.winners_count]]
    cutoff = ranked[: draw.winners_count][-1][0] if initial else ""
    if cutoff != draw.cutoff_digest:
        diff(f"cutoff_digest: stored {draw.cutoff_digest or '-'}, recomputed {cutoff or '-'}")

    # Walk the forfeits in order: each replacement is the next member in digest order.
    taken = set(initial)
    winners = set(initial)
    forfeited: set[str] = set()
    replacements: set[str] = set()
    for forfeit in draw.forfeits.order_by("number"):
        if forfeit.member_id not in winners:
            diff(f"forfeit #{forfeit.number}: {forfeit.member_id} was not a winner when it forfeited")
        expected = next((m for _d, m in ranked if m not in taken), "")
        if forfeit.replacement_member_id != expected:
            diff(
                f"forfeit #{forfeit.number}: stored replacement {forfeit.replacement_member_id or '-'}, "
                f"next in digest order {expected or '-'}"
            )
        if expected:
            taken.add(expected)
            if (forfeit.replacement_rank, forfeit.replacement_digest) != position[expected]:
                diff(f"forfeit #{forfeit.number}: stored rank/digest of {expected} differ from the recomputed ones")
        if forfeit.status == ForfeitStatus.CONFIRMED:
            winners.discard(forfeit.member_id)
            forfeited.add(forfeit.member_id)
            if expected:
                winners.add(expected)
                replacements.add(expected)

    def expected_outcome(member_id: str) -> str:
        if member_id in forfeited:
            return Outcome.FORFEITED
        if member_id in replacements:
            return Outcome.REPLACEMENT
        return Outcome.WINNER if member_id in winners else Outcome.LOST

    wrong = [m for m, outcome, _d, _r in entrants if outcome != expected_outcome(m)]
    if wrong:
        diff(f"outcomes: {len(wrong)} stored outcomes differ from the recomputed ones: {_listed(wrong)}")
    wrong_digest = [
        m for m, outcome, digest, rank in entrants if outcome != Outcome.LOST and (rank, digest) != position[m]
    ]
    if wrong_digest:
        diff(f"digests: stored rank or digest differ for {_listed(wrong_digest)}")

    if draw.status == DrawStatus.CONFIRMED:
        paid = dict(
            LedgerLine.objects.filter(campaign_id=draw.campaign_id, reward=LOTTERY_REWARD)
            .values("member_id")
            .annotate(points=Sum("points"))
            .values_list("member_id", "points")
        )
        wrong_paid = [m for m in set(paid) | winners if paid.get(m, 0) != (draw.prize_points if m in winners else 0)]
        if wrong_paid:
            diff(f"ledger: the lottery points of {_listed(wrong_paid)} differ from {draw.prize_points} per winner")
    return report


# --- Export ---------------------------------------------------------------------------------


def eligible_list_export(*, draw: Draw) -> bytes:
    """The frozen eligible list, exactly the bytes whose SHA-256 is ``eligible_hash`` (for auditors)."""
    return "".join(f"{m}\n" for m in sorted(draw.entrants.values_list("member_id", flat=True))).encode("utf-8")


def winners_export(*, draw: Draw, encoding: str = "utf-8") -> bytes:
    """The winners for prize fulfilment: rank, member, digest, outcome, forfeit, points awarded (CSV)."""
    if encoding not in EXPORT_ENCODINGS:
        raise Refused("bad_encoding", _("Choose UTF-8 or CP932."))
    forfeits = {f.member_id: f for f in draw.forfeits.all()}
    replaced = {f.replacement_member_id: f for f in draw.forfeits.all() if f.replacement_member_id}
    paid = dict(
        LedgerLine.objects.filter(campaign_id=draw.campaign_id, reward=LOTTERY_REWARD)
        .values("member_id")
        .annotate(points=Sum("points"))
        .values_list("member_id", "points")
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["rank", "member_id", "digest", "outcome", "forfeit_reason", "replaces", "replaced_by", "points_awarded"]
    )
    rows = draw.entrants.filter(outcome__in=[*WINNING_OUTCOMES, Outcome.FORFEITED]).order_by("rank")
    for entrant in rows:
        forfeit = forfeits.get(entrant.member_id)
        confirmed = forfeit is not None and forfeit.status == ForfeitStatus.CONFIRMED
        replacing = replaced.get(entrant.member_id)
        writer.writerow(
            row_escape(
                [
                    entrant.rank,
                    entrant.member_id,
                    entrant.digest,
                    entrant.outcome,
                    forfeit.reason if confirmed else "",
                    replacing.member_id if replacing else "",
                    forfeit.replacement_member_id if confirmed else "",
                    paid.get(entrant.member_id, 0),
                ]
            )
        )
    return out.getvalue().encode(encoding, errors="replace")
