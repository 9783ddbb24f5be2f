"""The scoring engine: a chunk of members → stamps, stamp cards and ledger lines, set-based.

One SQL statement per chunk evaluates every record-counting mission at once: the chunk's
countable records (in the period, not void, eligible amount > 0) get their JST day, time of
day and ISO weekday from integer seconds, one 0/1 flag per mission, and running sums over
the member's records in time order, so the record whose rank reaches the target is the one
that cleared the mission (the 3rd qualifying payment, the first payment of the 10th day).
All windows share one ordering, so the database sorts the chunk once. The same SQL runs on
SQLite and PostgreSQL; only the epoch expression differs. Python then combines a handful of
values per member (videos, completion missions, entry gating), diffs them against the
stored stamps and ledger, and writes only what changed, set-based (``rows_upsert``).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction

from campaign import clock
from campaign.models import Campaign, Entry, Transaction, VideoView
from merchants.models import Merchant
from missions.models import LedgerKind, LedgerLine, MissionKind, Stamp, StampCard, Video
from missions.rules import Rule
from missions.services import ScoreResult

LOTTERY_REWARD = "lottery"

# On PostgreSQL, score and write each chunk inside the database (missions/engine_sql.py); the Python
# diff below stays the reference, for SQLite, dry runs and the tests that compare the two paths.
SQL_FAST_PATH = True
_ONE_CORE = False  # set in the worker processes of chunks_score_parallel
BULK_CHUNK = 1000  # members: a chunk larger than a task's (missions.services.SCORE_CHUNK) is a bulk one


@dataclass
class MemberFilter:
    """Which members a chunk covers: an explicit list, or a closed range of member ids (full re-score)."""

    ids: list[str]
    as_range: bool = False

    def sql(self, column: str) -> tuple[str, list]:
        if self.as_range:
            return f"{column} >= %s AND {column} <= %s", [self.ids[0], self.ids[-1]]
        if connection.vendor == "postgresql":
            return f"{column} = ANY({ids_array_sql()})", [ids_array_param(self.ids)]
        return f"{column} IN ({', '.join(['%s'] * len(self.ids))})", list(self.ids)

    def orm(self, field_name: str = "member_id") -> dict:
        if self.as_range:
            return {f"{field_name}__gte": self.ids[0], f"{field_name}__lte": self.ids[-1]}
        return {f"{field_name}__in": self.ids}


def ids_array_sql() -> str:
    """A ``varchar[]`` of member ids from one text parameter (see ``ids_array_param``).

    Django binds parameters on the client, so a Python list becomes an ``ARRAY[…]`` constructor of
    one literal per element that the server parses as an expression: 0.7 s for 50,000 ids. One
    newline-separated string (member ids hold no newline) is split by the server in milliseconds.
    """
    return "string_to_array(%s, E'\\n')::varchar[]"


def ids_array_param(ids: Sequence[str]) -> str:
    if any("\n" in i for i in ids):
        raise ValueError("a member id holds a newline")
    return "\n".join(ids)


@dataclass
class Outcome:
    """What a member achieved on one mission, before entry gating."""

    progress: int = 0
    cleared_at: datetime | None = None
    transaction_pk: int | None = None
    video_view_pk: int | None = None
    # Per-unit rewards: unit number → when it was earned.
    units: dict[int, datetime] = field(default_factory=dict)

    @property
    def cleared(self) -> bool:
        return self.cleared_at is not None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros_sql(column: str) -> str:
    """A timestamp as whole microseconds since the epoch on PostgreSQL (cheap to load), as stored on SQLite."""
    if connection.vendor == "postgresql":
        return f"(extract(epoch from {column}) * 1000000)::bigint"
    return column


def _as_datetime(value) -> datetime | None:
    if isinstance(value, int):
        return _EPOCH + value * _MICROSECOND
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _local_seconds_sql() -> str:
    """Whole seconds since 1970-01-01 00:00 *Japan time* of ``t.occurred_at``.

    JST has no daylight saving, so Japan time is UTC + 9 h; from these integer seconds the JST
    day, time of day and ISO weekday are exact integer arithmetic on both databases. Truncating
    to the second is exact for windows whose bounds are whole seconds (09:59:59.9 counts, 10:00:00
    does not).
    """
    if connection.vendor == "postgresql":
        return "(floor(date_part('epoch', t.occurred_at))::bigint + 32400)"
    return "(CAST(strftime('%%s', t.occurred_at) AS INTEGER) + 32400)"


def _seconds(value) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _qualifies_sql(rule: Rule) -> tuple[str, list]:
    """SQL condition (over the ``base`` columns) for a record that counts toward ``rule``."""
    kind = MissionKind.PAYMENT if rule.kind == MissionKind.PAYMENT else MissionKind.CHARGE
    conditions = [f"type = '{kind}'", f"elig >= {int(rule.min_amount)}"]
    params: list = []
    if rule.window_start is not None and rule.window_end is not None:
        conditions.append(f"tod >= {_seconds(rule.window_start)} AND tod < {_seconds(rule.window_end)}")
    if rule.weekdays:
        conditions.append(f"dow IN ({', '.join(str(int(d)) for d in rule.weekdays)})")
    if rule.bonus_only:
        conditions.append("bonus = 1")
    return " AND ".join(conditions), params


def records_query(
    *, campaign: Campaign, counting: Sequence[Rule], members: MemberFilter, micros: bool = True
) -> tuple[str, list]:
    """The statement of ``_records_evaluate``: one row per member of the chunk with records that count.

    Per rule k of ``counting``, in order: c{k} (qualifying records or days), i{k} and a{k} (the pk
    and time of the record that reached the target), then u{k}_1 … u{k}_target for per-unit rewards.
    Times are whole microseconds since the epoch (``micros``, cheap to load in Python) or timestamps.
    """
    tx = Transaction._meta.db_table
    merchant = Merchant._meta.db_table
    member_sql, member_params = members.sql("t.member_id")
    ops = connection.ops
    flags, flag_params = [], []
    for k, rule in enumerate(counting):
        condition, extra = _qualifies_sql(rule)
        flags.append(f"CASE WHEN {condition} THEN 1 ELSE 0 END AS q{k}")
        flag_params += extra
    base = (
        f"SELECT t.id, t.transaction_id, t.member_id, t.type, t.occurred_at, "
        f"CASE WHEN t.type = 'payment' THEN t.amount - t.points_used ELSE t.amount END AS elig, "
        f"{_local_seconds_sql()} AS ls, "
        f"CASE WHEN t.merchant_code IN (SELECT code FROM {merchant} WHERE on_bonus_list AND is_active) "
        f"THEN 1 ELSE 0 END AS bonus "
        f"FROM {tx} t WHERE t.campaign_id = %s AND t.type IN ('payment', 'charge') "
        f"AND t.occurred_at >= %s AND t.occurred_at < %s AND {member_sql} "
        f"AND t.amount - (CASE WHEN t.type = 'payment' THEN t.points_used ELSE 0 END) > 0 "
        f"AND NOT EXISTS (SELECT 1 FROM {tx} c WHERE c.type = 'cancel' "
        f"AND c.original_transaction_id = t.transaction_id)"
    )
    params: list = [
        campaign.pk,
        ops.adapt_datetimefield_value(campaign.starts_at),
        ops.adapt_datetimefield_value(campaign.ends_at),
        *member_params,
    ]
    local = "SELECT a.*, ls / 86400 AS d, ls %% 86400 AS tod, ((ls / 86400 + 3) %% 7) + 1 AS dow"
    flagged = f"SELECT b.*, {', '.join(flags)} FROM ({local} FROM ({base}) a) b"
    params = flag_params + params  # the flags come first in the statement
    running = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    before = "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    level2, level3, final = [], [], []
    for k, rule in enumerate(counting):
        target = int(rule.target)
        if rule.distinct_days:
            level2.append(f"max(CASE WHEN q{k} = 1 THEN d END) OVER (w {before}) AS p{k}")
            counted = f"(CASE WHEN q{k} = 1 AND (p{k} IS NULL OR p{k} < d) THEN 1 ELSE 0 END)"
            level3.append(f"sum{counted} OVER (w {running}) AS r{k}")
        else:
            counted = f"q{k}"
            level2.append(f"sum(q{k}) OVER (w {running}) AS r{k}")
        final.append(f"sum({counted}) AS c{k}")
        final.append(f"min(CASE WHEN {counted} = 1 AND r{k} = {target} THEN id END) AS i{k}")
        at = _micros_sql("occurred_at") if micros else "occurred_at"
        final.append(f"min(CASE WHEN {counted} = 1 AND r{k} = {target} THEN {at} END) AS a{k}")
        if rule.unit_points:
            for n in range(1, target + 1):
                final.append(f"min(CASE WHEN {counted} = 1 AND r{k} = {n} THEN {at} END) AS u{k}_{n}")
    window = "WINDOW w AS (PARTITION BY member_id ORDER BY occurred_at, transaction_id)"
    query = f"SELECT f.*, {', '.join(level2)} FROM ({flagged}) f {window}"
    if level3:
        query = f"SELECT g.*, {', '.join(level3)} FROM ({query}) g {window}"
    query = f"SELECT member_id, {', '.join(final)} FROM ({query}) h GROUP BY member_id"
    return query, params


def _records_evaluate(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter
) -> dict[tuple[str, int], Outcome]:
    """Every record-counting mission of a chunk of members in one statement and one sort.

    Each record gets a 0/1 flag per mission (q_k); running sums over the member's records in
    time order rank the qualifying records, so the record whose rank reaches the target is the
    one that cleared the mission. For "different days" a record counts when the latest earlier
    qualifying record is on an earlier JST day. Every window shares one ordering, so the
    database sorts the chunk once, and the final GROUP BY returns one row per member.
    """
    counting = [r for r in rules if r.counts_records]
    outcomes: dict[tuple[str, int], Outcome] = {}
    if not counting:
        return outcomes
    query, params = records_query(campaign=campaign, counting=counting, members=members)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    for row in rows:
        member_id, position = row[0], 1
        for rule in counting:
            count, pk, at = row[position : position + 3]
            position += 3
            units = ()
            if rule.unit_points:
                units = row[position : position + rule.target]
                position += rule.target
            if not count:
                continue
            outcome = Outcome(progress=min(int(count), rule.target))
            if pk is not None:
                outcome.cleared_at = _as_datetime(at)
                outcome.transaction_pk = pk
            for n, when in enumerate(units, start=1):
                if when is not None:
                    outcome.units[n] = _as_datetime(when)
            outcomes[(member_id, rule.mission_id)] = outcome
    return outcomes


def _videos_evaluate(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter
) -> dict[tuple[str, int], Outcome]:
    video_rules = [r for r in rules if r.kind == MissionKind.VIDEO]
    outcomes: dict[tuple[str, int], Outcome] = {}
    if not video_rules:
        return outcomes
    order = dict(Video.objects.filter(campaign=campaign).values_list("pk", "order"))
    views: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for member_id, pk, video_id, watched_at in VideoView.objects.filter(campaign=campaign, **members.orm()).values_list(
        "member_id", "pk", "video_id", "watched_at"
    ):
        views[member_id].append((watched_at, order.get(video_id, 0), pk))
    for member_id, watched in views.items():
        watched.sort()
        for rule in video_rules:
            outcome = Outcome(progress=min(len(watched), rule.target))
            for n, (when, video_order, pk) in enumerate(watched[: rule.target], start=1):
                if rule.unit_points:
                    outcome.units[video_order or n] = when
                if n == rule.target:
                    outcome.cleared_at = when
                    outcome.video_view_pk = pk
            outcomes[(member_id, rule.mission_id)] = outcome
    return outcomes


def _completions_evaluate(*, member_ids: Sequence[str], rules: Sequence[Rule], outcomes: dict) -> None:
    by_code = {r.code: r for r in rules}
    completions = [r for r in rules if r.kind == MissionKind.COMPLETION]
    if not completions:
        return
    # Only members with progress somewhere (or a completion stamp to update) can change.
    members_with_progress = {member_id for member_id, _mission in outcomes}
    required_of = {
        rule.mission_id: [by_code[c].mission_id for c in rule.requires if c in by_code] for rule in completions
    }
    # Completion missions may require other completions: evaluate until nothing changes.
    for _ in range(len(completions) + 1):
        changed = False
        for member_id in members_with_progress:
            for rule in completions:
                required = required_of[rule.mission_id]
                done = [outcomes.get((member_id, mission_id)) for mission_id in required]
                done = [o for o in done if o is not None and o.cleared]
                outcome = Outcome(progress=min(len(done), rule.target))
                if required and len(done) == len(required):
                    last = max(done, key=lambda o: o.cleared_at)
                    outcome.cleared_at = last.cleared_at
                    outcome.transaction_pk = last.transaction_pk
                    outcome.video_view_pk = last.video_view_pk
                key = (member_id, rule.mission_id)
                previous = outcomes.get(key)
                differs = previous is None or (previous.progress, previous.cleared_at) != (
                    outcome.progress,
                    outcome.cleared_at,
                )
                if differs and (outcome.progress or previous is not None):
                    outcomes[key] = outcome
                    changed = True
        if not changed:
            break


def outcomes_evaluate(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter, member_ids: Sequence[str]
) -> dict[tuple[str, int], Outcome]:
    """(member_id, mission_id) → Outcome for every mission with progress, entered or not."""
    outcomes = _records_evaluate(campaign=campaign, rules=rules, members=members)
    outcomes.update(_videos_evaluate(campaign=campaign, rules=rules, members=members))
    _completions_evaluate(member_ids=member_ids, rules=rules, outcomes=outcomes)
    return outcomes


def _desired_ledger(rule: Rule, outcome: Outcome) -> dict[int, tuple[int, datetime]]:
    """unit → (points, when earned) this mission should have awarded an entered member."""
    if rule.unit_points:
        return {unit: (rule.unit_points, when) for unit, when in outcome.units.items()}
    if outcome.cleared:
        return {1: (rule.reward_points, outcome.cleared_at)}
    return {}


def rows_upsert(
    model,
    columns: list[str],
    rows: list[tuple],
    *,
    conflict: list[str],
    update: list[str] | None = None,
    new: bool = False,
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) set-based; on a unique conflict update ``update`` (or skip).

    PostgreSQL: COPY into a temporary table, then one ``INSERT … SELECT … ON CONFLICT`` — no model
    instances, no per-row statements. SQLite: the same upsert through ``executemany``.

    ``new``: the caller read the rows' keys under the chunk's card locks and none exists, so on
    PostgreSQL the rows are copied straight into the table (no staging table, no speculative
    insertion). Should one exist after all, the unique constraint refuses the whole chunk (its
    transaction rolls back; a task retries it), it never writes a second row.
    """
    if not rows:
        return
    table = model._meta.db_table
    cols = ", ".join(columns)
    action = f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in update)}" if update else "DO NOTHING"
    on_conflict = f"ON CONFLICT ({', '.join(conflict)}) {action}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and new:
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif connection.vendor == "postgresql":
            stage = f"_stage_{table}"
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
            with cursor.cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ORDER BY 1, 2 {on_conflict}")
            cursor.execute(f"DROP TABLE {stage}")
        else:
            ops = connection.ops
            adapted = [
                tuple(ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in row) for row in rows
            ]
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}) {on_conflict}", adapted)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk builds its few hundred thousand small objects.

    They are tuples, dicts and dataclasses without cycles, freed by reference counting when the
    chunk ends; the collector's generation-0 passes over them cost a fifth of the Python time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def chunk_score(
    *,
    campaign: Campaign,
    rules: Sequence[Rule],
    member_ids: Sequence[str],
    as_range: bool = False,
    dry_run: bool = False,
) -> ScoreResult:
    """Score one chunk of members (sorted ids); in one database transaction unless ``dry_run``."""
    result = ScoreResult(members_scored=len(member_ids))
    if not member_ids:
        return result
    members = MemberFilter(ids=list(member_ids), as_range=as_range)
    with _no_cyclic_gc():
        _chunk_score(
            campaign=campaign, rules=rules, member_ids=member_ids, members=members, result=result, dry_run=dry_run
        )
    return result


def _chunk_score(
    *,
    campaign: Campaign,
    rules: Sequence[Rule],
    member_ids: Sequence[str],
    members: MemberFilter,
    result: ScoreResult,
    dry_run: bool,
) -> None:
    if dry_run:
        _chunk_compute_and_write(campaign=campaign, rules=rules, members=members, result=result, dry_run=True)
        return
    # A bulk chunk on PostgreSQL (a full re-score's member range, or the many members of a file
    # import) writes the cards of members who have none yet once, at the end, instead of creating
    # them first to lock them. Should another scorer write one of those members meanwhile, its
    # stamps or ledger lines collide with the chunk's on the unique constraints and refuse the
    # chunk, which is then scored again with every card locked. Task-sized chunks lock first.
    optimistic = _sql_fast_path() and (members.as_range or len(members.ids) > BULK_CHUNK)
    attempt = ScoreResult()  # the counts of a refused attempt are dropped with its writes
    try:
        _chunk_locked(campaign=campaign, rules=rules, members=members, result=attempt, create_cards=not optimistic)
    except IntegrityError:
        if not optimistic:
            raise
        attempt = ScoreResult()
        _chunk_locked(campaign=campaign, rules=rules, members=members, result=attempt, create_cards=True)
    result.add(attempt)


def _sql_fast_path() -> bool:
    return connection.vendor == "postgresql" and SQL_FAST_PATH


def _chunk_locked(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter, result: ScoreResult, create_cards: bool
) -> None:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        # Serialise concurrent scorers of the same members: create the cards if missing, then lock
        # them (in member order, so overlapping chunks cannot deadlock) before reading any record.
        if create_cards:
            rows_upsert(
                StampCard,
                [
                    "campaign_id",
                    "member_id",
                    "entered",
                    "stamps_cleared",
                    "points_limited",
                    "points_basic",
                    "lottery_eligible",
                ],
                [(campaign.pk, m, False, 0, 0, 0, False) for m in members.ids],
                conflict=["campaign_id", "member_id"],
            )
        locked = list(
            StampCard.objects.select_for_update()
            .filter(campaign=campaign, **members.orm())
            .order_by("member_id")
            .values_list("pk", flat=True)
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '256MB'")  # the chunk's sort stays in memory
                # A chunk's statements run for a second or less; compiling them (JIT) took up to 0.7 s
                # each when the planner's estimates for freshly written tables were large.
                cursor.execute("SET LOCAL jit = off")
                if _ONE_CORE:
                    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                if outermost:
                    # Scores are derived data a re-score rebuilds, and any later synchronous commit (an
                    # export reading the ledger) flushes this one first: no need to wait for the disk.
                    # Never inside a caller's transaction, whose records must be durable on commit.
                    cursor.execute("SET LOCAL synchronous_commit = off")
        if _sql_fast_path():
            from missions.engine_sql import chunk_write_sql

            chunk_write_sql(campaign=campaign, rules=rules, members=members, result=result, cards_stored=bool(locked))
        else:
            _chunk_compute_and_write(campaign=campaign, rules=rules, members=members, result=result, dry_run=False)


def _chunk_compute_and_write(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter, result: ScoreResult, dry_run: bool
) -> None:
    member_ids = members.ids
    outcomes = outcomes_evaluate(campaign=campaign, rules=rules, members=members, member_ids=member_ids)
    entered = set(Entry.objects.filter(campaign=campaign, **members.orm()).values_list("member_id", flat=True))
    now = clock.now()
    by_id = {r.mission_id: r for r in rules}
    changed_members: set[str] = set()

    # Stamps: upsert only what changed.
    member_sql, member_params = members.sql("member_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT member_id, mission_id, progress, target, cleared, {_micros_sql('cleared_at')}, "
            f"cleared_by_transaction_id, cleared_by_video_view_id FROM {Stamp._meta.db_table} "
            f"WHERE campaign_id = %s AND {member_sql}",
            [campaign.pk, *member_params],
        )
        existing = {
            (m, mission): (p, t, bool(c), _as_datetime(ca), tx, vv)
            for m, mission, p, t, c, ca, tx, vv in cursor.fetchall()
        }
    wanted: dict[tuple[str, int], tuple] = {}
    for (member_id, mission_id), outcome in outcomes.items():
        rule = by_id[mission_id]
        if member_id in entered and outcome.cleared:
            wanted[(member_id, mission_id)] = (
                outcome.progress,
                rule.target,
                True,
                outcome.cleared_at,
                outcome.transaction_pk,
                outcome.video_view_pk,
            )
        else:
            wanted[(member_id, mission_id)] = (outcome.progress, rule.target, False, None, None, None)
    for key, old in existing.items():
        if key not in wanted and (old[0] or old[2]):
            rule = by_id.get(key[1])
            wanted[key] = (0, rule.target if rule else old[1], False, None, None, None)
    upserts = [
        (campaign.pk, member_id, mission_id, *v, now)
        for (member_id, mission_id), v in wanted.items()
        if existing.get((member_id, mission_id)) != v and (v[0] or v[2] or (member_id, mission_id) in existing)
    ]
    result.stamps_changed += len(upserts)
    changed_members.update(row[1] for row in upserts)

    # Ledger: compare what should be awarded with the lines written so far (lottery lines are not ours).
    lines = LedgerLine.objects.filter(campaign=campaign, **members.orm()).values_list(
        "member_id", "reward", "unit", "generation", "kind", "points", "point_type"
    )
    state: dict[tuple[str, str, int], dict] = {}
    balances: dict[str, dict[str, int]] = defaultdict(lambda: {"limited": 0, "basic": 0})
    for member_id, reward, unit, generation, kind, points, point_type in lines:
        balances[member_id][point_type] = balances[member_id].get(point_type, 0) + points
        if reward == LOTTERY_REWARD:
            continue
        s = state.setdefault((member_id, reward, unit), {"generation": 0, "reversed": set(), "points": {}})
        if kind == LedgerKind.AWARD:
            s["generation"] = max(s["generation"], generation)
            s["points"][generation] = points
        else:
            s["reversed"].add(generation)
    desired: dict[tuple[str, str, int], tuple[int, datetime, Rule]] = {}
    for (member_id, mission_id), outcome in outcomes.items():
        if member_id not in entered:
            continue
        rule = by_id[mission_id]
        for unit, (points, when) in _desired_ledger(rule, outcome).items():
            desired[(member_id, rule.code, unit)] = (points, when, rule)
    new_lines: list[tuple] = []
    by_code = {r.code: r for r in rules}

    def line(member_id, reward, unit, generation, kind, points, point_type, reason, when, rule):
        new_lines.append(
            (
                campaign.pk,
                member_id,
                rule.mission_id if rule else None,
                reward,
                unit,
                generation,
                str(kind),
                points,
                point_type,
                reason[:200],
                when,
                now,
            )
        )
        balances[member_id][point_type] = balances[member_id].get(point_type, 0) + points

    nothing: dict = {"generation": 0, "reversed": set(), "points": {}}
    for key in state.keys() | desired.keys():
        member_id, reward, unit = key
        s = state.get(key, nothing)
        generation = s["generation"]
        active = generation > 0 and generation not in s["reversed"]
        held = s["points"].get(generation, 0) if active else 0
        want = desired.get(key)
        rule = by_code.get(reward)
        point_type = rule.point_type if rule else "limited"
        if active and (want is None or want[0] != held):
            reason = f"{reward} withdrawn: no longer met" if want is None else f"{reward} reward changed"
            line(member_id, reward, unit, generation, LedgerKind.REVERSAL, -held, point_type, reason, now, rule)
            result.reversals += 1
            active = False
        if want is not None and not active and want[0] > 0:
            points, when, rule = want
            reason = f"{reward} cleared" if not rule.unit_points else f"{reward} unit {unit}"
            line(member_id, reward, unit, generation + 1, LedgerKind.AWARD, points, rule.point_type, reason, when, rule)
            result.awards += 1
    result.points_delta += sum(x[7] for x in new_lines)
    changed_members.update(x[1] for x in new_lines)

    # Stamp cards: the summary of the above, for every member of the chunk.
    lottery_needed = sum(1 for r in rules if r.counts_for_lottery)
    cleared_count: dict[str, int] = defaultdict(int)
    lottery_count: dict[str, int] = defaultdict(int)
    for (member_id, mission_id), outcome in outcomes.items():
        if outcome.cleared_at is not None and member_id in entered:
            cleared_count[member_id] += 1
            if by_id[mission_id].counts_for_lottery:
                lottery_count[member_id] += 1
    cards = []
    empty: dict[str, int] = {}
    for member_id in member_ids:
        is_entered = member_id in entered
        cleared = cleared_count.get(member_id, 0)
        eligible = is_entered and lottery_needed > 0 and lottery_count.get(member_id, 0) == lottery_needed
        balance = balances.get(member_id, empty)
        cards.append(
            (
                campaign.pk,
                member_id,
                is_entered,
                cleared,
                balance.get("limited", 0),
                balance.get("basic", 0),
                eligible,
                now,
            )
        )
    result.members_changed += len(changed_members)
    if dry_run:
        return
    stamp_updates = ["progress", "target", "cleared", "cleared_at", "cleared_by_transaction_id"]
    stamp_updates += ["cleared_by_video_view_id", "updated_at"]
    stamp_columns = ["campaign_id", "member_id", "mission_id", *stamp_updates]
    for fresh in (True, False):
        rows_upsert(
            Stamp,
            stamp_columns,
            [row for row in upserts if ((row[1], row[2]) not in existing) == fresh],
            conflict=["member_id", "mission_id"],
            update=stamp_updates,
            new=fresh,
        )
    ledger_columns = ["campaign_id", "member_id", "mission_id", "reward", "unit", "generation", "kind", "points"]
    ledger_columns += ["point_type", "reason", "occurred_at", "created_at"]
    rows_upsert(
        LedgerLine,
        ledger_columns,
        new_lines,
        conflict=["campaign_id", "member_id", "reward", "unit", "generation", "kind"],
        new=True,  # each line continues the generations read above (lottery lines are other rewards)
    )
    card_updates = ["entered", "stamps_cleared", "points_limited", "points_basic", "lottery_eligible", "scored_at"]
    rows_upsert(
        StampCard,
        ["campaign_id", "member_id", *card_updates],
        cards,
        conflict=["campaign_id", "member_id"],
        update=card_updates,
    )


def _chunks_score_worker(args: tuple[int, list[Rule], list[str] | tuple, bool]) -> ScoreResult:
    """One chunk of a parallel re-score, in a worker process with its own database connection.

    A chunk is a sorted list of member ids, or a (low, high) pair of bounds: the campaign's members
    whose ids lie in [low, high) (None: unbounded), looked up here so that the workers share that
    work instead of waiting for the parent to list every member first.
    """
    from missions.services import _members_of_campaign

    campaign_id, rules, chunk, as_range = args
    global _ONE_CORE
    _ONE_CORE = True  # the pool already keeps every core busy: no parallel query workers on top
    campaign = Campaign.objects.get(pk=campaign_id)
    member_ids = _members_of_campaign(campaign, *chunk) if isinstance(chunk, tuple) else chunk
    return chunk_score(campaign=campaign, rules=rules, member_ids=member_ids, as_range=as_range)


def chunks_score_parallel(
    *, campaign: Campaign, rules: Sequence[Rule], chunks: list[list[str] | tuple], jobs: int, as_range: bool = True
) -> ScoreResult:
    """Score disjoint chunks of members in ``jobs`` processes (a ``ScoringPool``), each on its own connection.

    The chunks are disjoint (sorted member ids taken as a range, or as lists with ``as_range=False``,
    or (low, high) bounds of member ids), so the workers never wait for each other's card locks and
    every chunk is still its own database transaction: the result is the serial one.
    """
    pool = ScoringPool(campaign=campaign, rules=rules, jobs=jobs)
    try:
        for chunk in chunks:
            pool.submit(chunk, as_range=as_range)
        return pool.finish()
    except BaseException:
        pool.terminate()
        raise


class ScoringPool:
    """Chunks of members scored as they are handed in, by ``jobs`` forked processes, while the caller
    goes on (a file import merging its next partition while the last one is scored).

    Each chunk is its own database transaction; the caller hands in disjoint chunks whose records
    are committed. The processes are forked at once, before the caller opens anything it must not
    share: its connections are closed first (reopened on next use).
    """

    def __init__(self, *, campaign: Campaign, rules: Sequence[Rule], jobs: int) -> None:
        import multiprocessing

        from django.db import connections

        connections.close_all()
        self._pool = multiprocessing.get_context("fork").Pool(processes=jobs)
        self.jobs = jobs
        self._campaign_id, self._rules = campaign.pk, list(rules)
        self._pending: list = []

    def submit(self, chunk: Sequence[str] | tuple, *, as_range: bool = False) -> None:
        """A chunk as ``_chunks_score_worker`` takes it: sorted member ids, or (low, high) bounds."""
        work = (self._campaign_id, self._rules, chunk, as_range)
        self._pending.append(self._pool.apply_async(_chunks_score_worker, (work,)))

    def finish(self) -> ScoreResult:
        """Wait for every chunk handed in; the first failure of a chunk is raised here."""
        total = ScoreResult()
        self._pool.close()
        for pending in self._pending:
            total.add(pending.get())
        self._pool.join()
        return total

    def terminate(self) -> None:
        self._pool.terminate()
        self._pool.join()
