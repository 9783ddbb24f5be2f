"""The published procedure of a draw (SPEC R11), so anyone can redo it: docs/lottery-verification.md.

- ``eligible_hash`` = SHA-256 hex of the eligible member ids sorted by code point, each followed
  by ``\\n``, UTF-8;
- ``seed`` = 32 bytes from :mod:`secrets`, published after the draw as 64 lowercase hex characters;
  ``seed_hash`` = SHA-256 hex of those 32 bytes;
- a member's ``digest`` = HMAC-SHA256(key=seed, message=member id in UTF-8), hex; the winners are
  the ``winners_count`` smallest digests, in digest order; ``cutoff_digest`` is the last winner's.

Here: that arithmetic, who is eligible, the check of a stored draw (``draw_verify``) and the files
a draw publishes. The steps that change a draw are in ``lottery.services``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from campaign.models import Campaign, Entry
from campaign.services import Refused
from campaign.spreadsheet import row_escape
from lottery.models import WINNING_OUTCOMES, Draw, DrawStatus, ForfeitStatus, Outcome
from missions.models import LOTTERY_REWARD, LedgerLine, Mission, Stamp

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


# --- Who is eligible -----------------------------------------------------------------------


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

    winners, expected_outcome = _forfeits_walk(draw, ranked, position, initial, diff)
    wrong = [m for m, outcome, _d, _r in entrants if outcome != expected_outcome(m)]
    if wrong:
        diff(f"outcomes: {len(wrong)} stored outcomes differ from the recomputed ones: {_listed(wrong)}")
    wrong_digest = [
        m for m, outcome, digest, rank in entrants if outcome != Outcome.LOST and (rank, digest) != position[m]
    ]
    if wrong_digest:
        diff(f"digests: stored rank or digest differ for {_listed(wrong_digest)}")

    if draw.status == DrawStatus.CONFIRMED:
        _prizes_check(draw, winners, diff)
    return report


def _forfeits_walk(draw: Draw, ranked, position, initial: list[str], diff):
    """The winners after the forfeits, each replaced by the next member in digest order; and each
    member's expected outcome. Differences from the stored forfeits are reported through ``diff``."""
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

    return winners, expected_outcome


def _prizes_check(draw: Draw, winners: set[str], diff) -> None:
    """Each winner holds the prize in the ledger, and nobody else holds lottery points."""
    paid = dict(
        LedgerLine.objects.filter(campaign_id=draw.campaign_id, reward=LOTTERY_REWARD)
        .values("member_id")
        .annotate(points=Sum("points"))
        .values_list("member_id", "points")
    )
    wrong_paid = [m for m in set(paid) | winners if paid.get(m, 0) != (draw.prize_points if m in winners else 0)]
    if wrong_paid:
        diff(f"ledger: the lottery points of {_listed(wrong_paid)} differ from {draw.prize_points} per winner")


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
