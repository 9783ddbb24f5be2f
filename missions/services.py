"""Scoring: turn entries, video views and transactions into stamps, stamp cards and ledger lines.

The interface other apps call (kept stable; the scoring work implements the bodies):

- ``members_score(*, campaign, member_ids=None, dry_run=False, missions=None) -> ScoreResult``
- ``progress_document(*, campaign, member_id) -> dict`` — SPEC 3.5
- ``transactions_explained(*, campaign, member_id) -> list[dict]`` — why each transaction counted
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta

from django.db import connection, transaction

from campaign import clock
from campaign.models import Campaign, Entry, Member, Transaction, VideoView
from campaign.services import statistics_sample
from missions.engine import ScoreResult, chunk_score
from missions.explain import ExplainedTransactions
from missions.models import LedgerLine, ScoringDue, Stamp, StampCard
from missions.progress import progress_build
from missions.rules import rules_load

SCORE_CHUNK = 1000


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
    rules = rules_load(campaign=campaign, missions=missions)
    ids = _member_ids(campaign, member_ids)
    result = _chunks_score(campaign=campaign, rules=rules, ids=ids, dry_run=dry_run)
    if not dry_run and len(ids) > SCORE_CHUNK:
        scoring_statistics_refresh()
    return result


def _member_ids(campaign: Campaign, member_ids: Iterable[str] | None) -> list[str]:
    if member_ids is None:
        return members_of_campaign(campaign)
    return sorted(set(Member.objects.filter(member_id__in={str(m) for m in member_ids}).values_list("pk", flat=True)))


def _chunks_score(*, campaign: Campaign, rules, ids: list[str], dry_run: bool) -> ScoreResult:
    # A few members (a push, an entry): task-sized chunks; many (a re-score): the large set-based
    # chunks whose fixed cost per chunk is spread over more members.
    size = full_chunk_size() if len(ids) > SCORE_CHUNK else SCORE_CHUNK
    result = ScoreResult()
    for start in range(0, len(ids), size):
        result.add(chunk_score(campaign=campaign, rules=rules, member_ids=ids[start : start + size], dry_run=dry_run))
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
    tables = ", ".join(model._meta.db_table for model in (Stamp, LedgerLine, StampCard))
    with transaction.atomic(), connection.cursor() as cursor:
        statistics_sample(cursor, tables)


PREVIEW_SAMPLE = 5000  # members a rule change's preview evaluates; beyond that, a random sample scaled up


@dataclass
class RuleEffect:
    """What a rule change would do to some members: the engine's counts, the changed stamps told apart.

    ``result.stamps_changed`` = ``stamps_new`` + ``stamps_withdrawn`` + ``stamps_progress``.
    """

    result: ScoreResult
    stamps_new: int = 0  # not cleared before, cleared after
    stamps_withdrawn: int = 0  # cleared before, not after

    @property
    def stamps_progress(self) -> int:
        """Stamps neither given nor withdrawn whose progress, target or clearing record changes."""
        return self.result.stamps_changed - self.stamps_new - self.stamps_withdrawn


def _cleared(campaign: Campaign, member_ids: list[str] | None) -> set[tuple[str, int]]:
    stamps = Stamp.objects.filter(campaign=campaign, cleared=True)
    if member_ids is not None:
        stamps = stamps.filter(member_id__in=member_ids)
    return set(stamps.values_list("member_id", "mission_id"))


def rule_change_effect(*, campaign: Campaign, missions: list, member_ids: Iterable[str] | None = None) -> RuleEffect:
    """The dry run of ``missions`` (edited, unsaved) for ``member_ids`` (None: every member), nothing kept.

    The engine scores inside a savepoint that is rolled back here, after the cleared stamps were
    read before and after: the same engine as the re-score, so the figures are the re-score's.
    """
    rules = rules_load(campaign=campaign, missions=missions)
    ids = _member_ids(campaign, member_ids)
    scope = None if member_ids is None else ids
    with transaction.atomic():
        before = _cleared(campaign, scope)
        result = _chunks_score(campaign=campaign, rules=rules, ids=ids, dry_run=False)
        after = _cleared(campaign, scope)
        transaction.set_rollback(True)
    return RuleEffect(result=result, stamps_new=len(after - before), stamps_withdrawn=len(before - after))


@dataclass
class RulePreview:
    """What saving a rule change would change: exact, or estimated from a random sample of members."""

    effect: RuleEffect
    sampled: int
    members: int

    @property
    def result(self) -> ScoreResult:
        return self.effect.result

    @property
    def estimated(self) -> bool:
        return self.sampled < self.members


def rule_change_preview(*, campaign: Campaign, missions: list, sample: int | None = None) -> RulePreview:
    """The dry run of a rule change (``missions``: the edited, unsaved Mission objects) for the admin's page.

    A campaign of a million members would keep the page waiting: beyond ``sample`` scored members,
    a random sample of them is evaluated and every count is scaled to the whole campaign (the
    stamps' split scaled as one with their total, so the parts still add up).
    """
    sample = sample or PREVIEW_SAMPLE
    cards = StampCard.objects.filter(campaign=campaign)
    members = cards.count()
    if members <= sample:
        effect = rule_change_effect(campaign=campaign, missions=missions)
        return RulePreview(effect=effect, sampled=effect.result.members_scored, members=effect.result.members_scored)
    chosen = list(cards.order_by("?").values_list("member_id", flat=True)[:sample])
    found = rule_change_effect(campaign=campaign, missions=missions, member_ids=chosen)
    scale = members / len(chosen)
    estimate = ScoreResult(members_scored=members)
    for counter in fields(ScoreResult):
        if counter.name != "members_scored":
            setattr(estimate, counter.name, round(getattr(found.result, counter.name) * scale))
    new, withdrawn = round(found.stamps_new * scale), round(found.stamps_withdrawn * scale)
    # Rounded parts may not sum to the rounded total: the progress-only part takes the difference, never below 0.
    estimate.stamps_changed = max(estimate.stamps_changed, new + withdrawn)
    return RulePreview(
        effect=RuleEffect(result=estimate, stamps_new=new, stamps_withdrawn=withdrawn),
        sampled=len(chosen),
        members=members,
    )


def full_chunk_size() -> int:
    """Members per chunk of a large re-score: PostgreSQL takes big set-based chunks well; SQLite modest ones."""
    return 50000 if connection.vendor == "postgresql" else SCORE_CHUNK


def members_of_campaign(campaign: Campaign) -> list[str]:
    """Every member with anything to score in the campaign (records, entries, views, cards), sorted.

    One UNION in the database: a third of the time of four DISTINCT lists merged here (1,000,000 records).
    """
    tables = [model._meta.db_table for model in (Transaction, Entry, VideoView, StampCard)]
    union = " UNION ".join(f"SELECT member_id FROM {table} WHERE campaign_id = %(campaign)s" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(union, {"campaign": campaign.pk})
        return sorted(row[0] for row in cursor.fetchall())


def scoring_due_mark(*, campaign_id: int, member_ids: Iterable[str]) -> None:
    """Mark members due for scoring, inside the caller's transaction (the one storing their records).

    An upsert in member order: should a scorer hold a member's row (it scores what it saw), this waits
    for its commit and then writes the row again, so a record the scorer did not see stays due.
    """
    ids = sorted(set(member_ids))
    table = ScoringDue._meta.db_table
    since = connection.ops.adapt_datetimefield_value(clock.now())
    upsert = "ON CONFLICT (campaign_id, member_id) DO UPDATE SET since = {least}({table}.since, excluded.since)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and ids:
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, member_id, since) SELECT %s, m, %s FROM unnest(%s::varchar[]) m"
                f" ORDER BY m {upsert.format(least='least', table=table)}",
                [campaign_id, since, ids],
            )
            return
        for start in range(0, len(ids), SCORE_CHUNK):
            part = ids[start : start + SCORE_CHUNK]
            rows = ", ".join(["(%s, %s, %s)"] * len(part))
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, member_id, since) VALUES {rows}"
                f" {upsert.format(least='min', table=table)}",
                [value for member_id in part for value in (campaign_id, member_id, since)],
            )


def scoring_due_oldest(*, limit: int = SCORE_CHUNK * 50, older_than: float = 0) -> dict[int, list[str]]:
    """The members due longest (``older_than`` seconds at least), by campaign: what the sweep scores."""
    cutoff = clock.now() - timedelta(seconds=older_than)
    due: dict[int, list[str]] = {}
    rows = ScoringDue.objects.filter(since__lte=cutoff).order_by("since").values_list("campaign_id", "member_id")
    for campaign_id, member_id in rows[:limit]:
        due.setdefault(campaign_id, []).append(member_id)
    return due


def scoring_lag_seconds() -> float:
    """Age of the oldest member due for scoring (0 when nothing is due): the scoring promise's gauge."""
    oldest = ScoringDue.objects.order_by("since").values_list("since", flat=True).first()
    return max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0


def progress_document(*, campaign: Campaign, member_id: str) -> dict:
    """The progress document of SPEC 3.5 for one member (entered or not)."""
    return progress_build(campaign=campaign, member_id=member_id)


def transactions_explained(*, campaign: Campaign, member_id: str) -> Sequence[dict]:
    """For each of the member's transactions, newest first: the missions it counted toward, or why none.

    The result is a lazy sequence: ``len()`` counts, slicing explains only that page, so
    Django's and DRF's paginators read one page of a member with hundreds of transactions.
    """
    return ExplainedTransactions(campaign=campaign, member_id=member_id)
