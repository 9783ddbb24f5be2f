"""Scoring: turn entries, video views and transactions into stamps, stamp cards and ledger lines.

The interface other apps call (kept stable; the scoring work implements the bodies):

- ``members_score(*, campaign, member_ids=None, dry_run=False, missions=None) -> ScoreResult``
- ``members_score_later(*, campaign, member_ids)`` — enqueue after commit, in chunks
- ``campaign_rescore_later(*, campaign)`` — a full re-score in the background
- ``progress_document(*, campaign, member_id) -> dict`` — SPEC 3.5
- ``transactions_explained(*, campaign, member_id) -> list[dict]`` — why each transaction counted
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from django.db import connection

from campaign.models import Campaign, Entry, Member, Transaction, VideoView
from campaign.queueing import task_enqueue_on_commit
from campaign.services import statistics_sample

SCORE_CHUNK = 1000


@dataclass
class ScoreResult:
    """What a scoring did (or, in a dry run, would do); a chunk's result adds into its caller's."""

    members_scored: int = 0
    members_changed: int = 0
    stamps_changed: int = 0
    awards: int = 0
    reversals: int = 0
    points_delta: int = 0

    def add(self, other: ScoreResult) -> None:
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))


def members_score(
    *,
    campaign: Campaign,
    member_ids: Iterable[str] | None = None,
    dry_run: bool = False,
    missions: list | None = None,
) -> ScoreResult:
    """Re-score ``member_ids`` (None: every member with records in the campaign) set-based.

    Writes stamps, stamp cards and ledger lines, idempotently. With ``dry_run`` nothing is
    written and the result says what would change; ``missions`` (unsaved Mission objects)
    replaces the stored rules for that evaluation (the admin's preview of a rule change).
    """
    from missions.engine import chunk_score
    from missions.rules import rules_load

    rules = rules_load(campaign=campaign, missions=missions)
    result = ScoreResult()
    if member_ids is None:
        ids, as_range, size = _members_of_campaign(campaign), True, full_chunk_size()
    else:
        wanted = sorted({str(m) for m in member_ids})
        # A few members (a push, an entry): small chunks; many (a file import scored at once):
        # the large set-based chunks of a full re-score, whose fixed cost per chunk dominates.
        ids, as_range = [], False
        size = full_chunk_size() if len(wanted) > SCORE_CHUNK else SCORE_CHUNK
        for start in range(0, len(wanted), SCORE_CHUNK):
            part = wanted[start : start + SCORE_CHUNK]
            ids += sorted(Member.objects.filter(member_id__in=part).values_list("member_id", flat=True))
    for start in range(0, len(ids), size):
        chunk = chunk_score(
            campaign=campaign, rules=rules, member_ids=ids[start : start + size], as_range=as_range, dry_run=dry_run
        )
        result.add(chunk)
    if not dry_run and len(ids) > SCORE_CHUNK:
        scoring_statistics_refresh()
    return result


def scoring_statistics_refresh() -> None:
    """After a bulk scoring, a quick sample of the scoring tables for the planner (PostgreSQL).

    Freshly written tables have no statistics until autovacuum samples them, up to a minute
    later; meanwhile the next pushes' scoring was planned on none and scanned every stamp
    (0.9 s instead of 0.3 s for 1,000 members). A sample of 3,000 rows per table (statistics
    target 10) takes ~50 ms; autovacuum's full sample replaces it later.
    """
    if connection.vendor != "postgresql":
        return
    from django.db import transaction

    from missions.models import LedgerLine, Stamp, StampCard

    tables = ", ".join(model._meta.db_table for model in (Stamp, LedgerLine, StampCard))
    with transaction.atomic(), connection.cursor() as cursor:
        statistics_sample(cursor, tables)


PREVIEW_SAMPLE = 5000  # members a rule change's preview evaluates; beyond that, a random sample scaled up


@dataclass
class RulePreview:
    """What saving a rule change would change: exact, or estimated from a random sample of members."""

    result: ScoreResult
    sampled: int
    members: int

    @property
    def estimated(self) -> bool:
        return self.sampled < self.members


def rule_change_preview(*, campaign: Campaign, missions: list, sample: int | None = None) -> RulePreview:
    """The dry run of a rule change (``missions``: the edited, unsaved Mission objects) for the admin's page.

    The dry run goes through the Python path, about 8,000 members a second: a campaign of a million
    members would keep the page waiting for minutes. Beyond ``sample`` scored members, a random
    sample of them is evaluated and every count is scaled to the whole campaign.
    """
    from missions.models import StampCard

    sample = sample or PREVIEW_SAMPLE
    cards = StampCard.objects.filter(campaign=campaign)
    members = cards.count()
    if members <= sample:
        result = members_score(campaign=campaign, member_ids=None, dry_run=True, missions=missions)
        return RulePreview(result=result, sampled=result.members_scored, members=result.members_scored)
    chosen = list(cards.order_by("?").values_list("member_id", flat=True)[:sample])
    found = members_score(campaign=campaign, member_ids=chosen, dry_run=True, missions=missions)
    scale = members / len(chosen)
    estimate = ScoreResult(members_scored=members)
    for counter in fields(ScoreResult):
        if counter.name != "members_scored":
            setattr(estimate, counter.name, round(getattr(found, counter.name) * scale))
    return RulePreview(result=estimate, sampled=len(chosen), members=members)


def member_chunks_score(*, campaign: Campaign, chunks: list[list[str]], jobs: int) -> ScoreResult:
    """Score chunks of listed members (a file import's) now, in ``jobs`` processes on PostgreSQL.

    Each chunk is its own database transaction, as in ``members_score``; the processes need their
    own connections, so this is for commands, never inside a caller's transaction (then: one process).
    """
    from missions.engine import chunk_score, chunks_score_parallel
    from missions.rules import rules_load

    rules = rules_load(campaign=campaign)
    chunks = [sorted(chunk) for chunk in chunks]
    result = ScoreResult()
    if jobs > 1 and len(chunks) > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        jobs = min(jobs, len(chunks))
        result.add(chunks_score_parallel(campaign=campaign, rules=rules, chunks=chunks, jobs=jobs, as_range=False))
    else:
        for chunk in chunks:
            result.add(chunk_score(campaign=campaign, rules=rules, member_ids=chunk))
    if result.members_scored > SCORE_CHUNK:
        scoring_statistics_refresh()
    return result


def full_chunk_size() -> int:
    """Members per chunk of a large re-score: PostgreSQL takes big set-based chunks well; SQLite modest ones."""
    return 50000 if connection.vendor == "postgresql" else SCORE_CHUNK


def _members_of_campaign(campaign: Campaign, low: str | None = None, high: str | None = None) -> list[str]:
    """Every member with anything to score in the campaign (records, entries, views, cards), sorted.

    ``low`` and ``high`` keep the ids in [low, high) only (None: unbounded).
    """
    from missions.models import StampCard

    bounds = {}
    if low is not None:
        bounds["member_id__gte"] = low
    if high is not None:
        bounds["member_id__lt"] = high
    ids: set[str] = set()
    for model in (Transaction, Entry, VideoView, StampCard):
        ids.update(model.objects.filter(campaign=campaign, **bounds).values_list("member_id", flat=True).distinct())
    return sorted(ids)


def member_spans(size: int) -> list[tuple[str | None, str | None]]:
    """Bounds [low, high) that cut the member ids into spans of about ``size`` members each.

    Cut on the member table in one pass over its key (milliseconds for 200,000 members), so that a
    parallel re-score starts at once and each worker lists its own span's members. The first and
    last spans are unbounded: every id falls in exactly one span, listed as a member or not.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT member_id FROM (SELECT member_id, row_number() OVER (ORDER BY member_id) AS n "
            f"FROM {Member._meta.db_table}) m WHERE n %% %s = 1 AND n > 1 ORDER BY member_id",
            [size],
        )
        cuts = [row[0] for row in cursor.fetchall()]
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def members_score_later(*, campaign: Campaign, member_ids: Iterable[str]) -> None:
    """Re-score these members after the current transaction commits, in chunks of SCORE_CHUNK."""
    from missions.tasks import members_score_task

    ids = sorted(set(member_ids))
    for start in range(0, len(ids), SCORE_CHUNK):
        # Not delay_on_commit: a broker that is down must not turn the caller's stored push into a 500.
        task_enqueue_on_commit(members_score_task, campaign.pk, ids[start : start + SCORE_CHUNK])


def campaign_rescore_later(*, campaign: Campaign) -> None:
    """Re-score every member of the campaign in the background."""
    members_score_later(campaign=campaign, member_ids=_members_of_campaign(campaign))


def progress_document(*, campaign: Campaign, member_id: str) -> dict:
    """The progress document of SPEC 3.5 for one member (entered or not)."""
    from missions.progress import progress_build

    return progress_build(campaign=campaign, member_id=member_id)


def transactions_explained(*, campaign: Campaign, member_id: str) -> Sequence[dict]:
    """For each of the member's transactions, newest first: the missions it counted toward, or why none.

    The result is a lazy sequence: ``len()`` counts, slicing explains only that page, so
    Django's and DRF's paginators read one page of a member with hundreds of transactions.
    """
    from missions.explain import ExplainedTransactions

    return ExplainedTransactions(campaign=campaign, member_id=member_id)
