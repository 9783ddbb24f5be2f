"""The scoring engine: a chunk of members → stamps, stamp cards and ledger lines, set-based.

One SQL statement per chunk evaluates every record-counting mission at once: a CTE of the
chunk's countable records (in the period, not void, eligible amount > 0) with their JST day,
time of day and ISO weekday, then one ``row_number()`` window per mission that finds the
record that reached the target (the 3rd qualifying payment, the first payment of the 10th
day). The same SQL runs on SQLite and PostgreSQL; only the three JST expressions differ.
Python then only combines a handful of rows per member (completion missions, entry gating)
and diffs them against the stored stamps and ledger, writing only what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction

from campaign import clock
from campaign.models import Campaign, Entry, Transaction, VideoView
from merchants.models import Merchant
from missions.models import LedgerKind, LedgerLine, MissionKind, Stamp, StampCard, Video
from missions.rules import Rule

LOTTERY_REWARD = "lottery"


@dataclass
class MemberFilter:
    """Which members a chunk covers: an explicit list, or a closed range of member ids (full re-score)."""

    ids: list[str]
    as_range: bool = False

    def sql(self, column: str) -> tuple[str, list]:
        if self.as_range:
            return f"{column} >= %s AND {column} <= %s", [self.ids[0], self.ids[-1]]
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", [list(self.ids)]
        return f"{column} IN ({', '.join(['%s'] * len(self.ids))})", list(self.ids)

    def orm(self, field_name: str = "member_id") -> dict:
        if self.as_range:
            return {f"{field_name}__gte": self.ids[0], f"{field_name}__lte": self.ids[-1]}
        return {f"{field_name}__in": self.ids}


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


@dataclass
class ChunkResult:
    members_scored: int = 0
    members_changed: int = 0
    stamps_changed: int = 0
    awards: int = 0
    reversals: int = 0
    points_delta: int = 0


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _jst_expressions() -> dict[str, str]:
    if connection.vendor == "postgresql":
        local = "(t.occurred_at AT TIME ZONE 'Asia/Tokyo')"
        return {
            "day": f"({local})::date",
            "tod": f"({local})::time",
            "dow": f"extract(isodow from {local})::int",
            "least": "least",
        }
    # SQLite stores UTC text; JST has no DST, so +9 hours is exact. '%%' escapes the paramstyle.
    return {
        "day": "date(t.occurred_at, '+9 hours')",
        "tod": "strftime('%%H:%%M:%%f', t.occurred_at, '+9 hours')",
        "dow": "((CAST(strftime('%%w', t.occurred_at, '+9 hours') AS INTEGER) + 6) %% 7) + 1",
        "least": "min",
    }


def _time_param(value):
    if connection.vendor == "postgresql":
        return value
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _mission_select(rule: Rule, least: str) -> tuple[str, list]:
    conditions = [f"type = '{MissionKind.PAYMENT if rule.kind == MissionKind.PAYMENT else MissionKind.CHARGE}'"]
    params: list = []
    conditions.append(f"elig >= {int(rule.min_amount)}")
    if rule.window_start is not None and rule.window_end is not None:
        conditions.append("tod >= %s AND tod < %s")
        params += [_time_param(rule.window_start), _time_param(rule.window_end)]
    if rule.weekdays:
        conditions.append(f"dow IN ({', '.join(str(int(d)) for d in rule.weekdays)})")
    if rule.bonus_only:
        conditions.append("bonus = 1")
    where = " AND ".join(conditions)
    target = int(rule.target)
    keep = f"rn <= {target}" if rule.unit_points else f"rn = {least}(cnt, {target})"
    ranked = (
        "row_number() OVER (PARTITION BY member_id ORDER BY occurred_at, transaction_id) AS rn, "
        "count(*) OVER (PARTITION BY member_id) AS cnt"
    )
    if rule.distinct_days:
        source = (
            "(SELECT b.*, row_number() OVER (PARTITION BY member_id, d ORDER BY occurred_at, transaction_id) AS rd "
            f"FROM base b WHERE {where}) y WHERE rd = 1"
        )
    else:
        source = f"base WHERE {where}"
    sql = (
        f"SELECT {int(rule.mission_id)} AS mission_id, member_id, cnt, rn, id, occurred_at FROM ("
        f"SELECT member_id, id, occurred_at, {ranked} FROM {source}) x WHERE {keep}"
    )
    return sql, params


def _records_evaluate(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter
) -> dict[tuple[str, int], Outcome]:
    counting = [r for r in rules if r.counts_records]
    outcomes: dict[tuple[str, int], Outcome] = {}
    if not counting:
        return outcomes
    expr = _jst_expressions()
    tx = Transaction._meta.db_table
    merchant = Merchant._meta.db_table
    member_sql, member_params = members.sql("t.member_id")
    ops = connection.ops
    base = (
        f"SELECT t.id, t.transaction_id, t.member_id, t.type, t.occurred_at, "
        f"CASE WHEN t.type = 'payment' THEN t.amount - t.points_used ELSE t.amount END AS elig, "
        f"{expr['day']} AS d, {expr['tod']} AS tod, {expr['dow']} AS dow, "
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
    selects = []
    for rule in counting:
        sql, extra = _mission_select(rule, expr["least"])
        selects.append(sql)
        params += extra
    query = f"WITH base AS ({base}) " + " UNION ALL ".join(selects)
    by_id = {r.mission_id: r for r in counting}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    for mission_id, member_id, cnt, rn, pk, occurred_at in rows:
        rule = by_id[mission_id]
        outcome = outcomes.setdefault((member_id, mission_id), Outcome())
        outcome.progress = min(int(cnt), rule.target)
        when = _as_datetime(occurred_at)
        if rule.unit_points:
            outcome.units[int(rn)] = when
        if int(rn) == rule.target:
            outcome.cleared_at = when
            outcome.transaction_pk = pk
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
    # Completion missions may require other completions: evaluate until nothing changes.
    for _ in range(len(completions) + 1):
        changed = False
        for member_id in member_ids:
            for rule in completions:
                required = [by_code[c] for c in rule.requires if c in by_code]
                done = [outcomes.get((member_id, r.mission_id)) for r in required]
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


def chunk_score(
    *,
    campaign: Campaign,
    rules: Sequence[Rule],
    member_ids: Sequence[str],
    as_range: bool = False,
    dry_run: bool = False,
) -> ChunkResult:
    """Score one chunk of members (sorted ids); in one database transaction unless ``dry_run``."""
    result = ChunkResult(members_scored=len(member_ids))
    if not member_ids:
        return result
    members = MemberFilter(ids=list(member_ids), as_range=as_range)
    if dry_run:
        _chunk_compute_and_write(campaign=campaign, rules=rules, members=members, result=result, dry_run=True)
        return result
    with transaction.atomic():
        # Serialise concurrent scorers of the same members: create the cards if missing, then lock
        # them (in member order, so overlapping chunks cannot deadlock) before reading any record.
        StampCard.objects.bulk_create(
            [StampCard(campaign=campaign, member_id=m) for m in member_ids], ignore_conflicts=True, batch_size=5000
        )
        list(
            StampCard.objects.select_for_update()
            .filter(campaign=campaign, **members.orm())
            .order_by("member_id")
            .values_list("pk", flat=True)
        )
        _chunk_compute_and_write(campaign=campaign, rules=rules, members=members, result=result, dry_run=False)
    return result


def _chunk_compute_and_write(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter, result: ChunkResult, dry_run: bool
) -> None:
    member_ids = members.ids
    outcomes = outcomes_evaluate(campaign=campaign, rules=rules, members=members, member_ids=member_ids)
    entered = set(Entry.objects.filter(campaign=campaign, **members.orm()).values_list("member_id", flat=True))
    now = clock.now()
    by_id = {r.mission_id: r for r in rules}
    changed_members: set[str] = set()

    # Stamps: upsert only what changed.
    existing = {
        (m, mission): (p, t, c, ca, tx, vv)
        for m, mission, p, t, c, ca, tx, vv in Stamp.objects.filter(campaign=campaign, **members.orm()).values_list(
            "member_id",
            "mission_id",
            "progress",
            "target",
            "cleared",
            "cleared_at",
            "cleared_by_transaction_id",
            "cleared_by_video_view_id",
        )
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
        Stamp(
            campaign=campaign,
            member_id=member_id,
            mission_id=mission_id,
            progress=v[0],
            target=v[1],
            cleared=v[2],
            cleared_at=v[3],
            cleared_by_transaction_id=v[4],
            cleared_by_video_view_id=v[5],
        )
        for (member_id, mission_id), v in wanted.items()
        if existing.get((member_id, mission_id)) != v and (v[0] or v[2] or (member_id, mission_id) in existing)
    ]
    result.stamps_changed += len(upserts)
    changed_members.update(s.member_id for s in upserts)

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
    new_lines: list[LedgerLine] = []
    by_code = {r.code: r for r in rules}

    def line(member_id, reward, unit, generation, kind, points, point_type, reason, when, rule):
        new_lines.append(
            LedgerLine(
                campaign=campaign,
                member_id=member_id,
                mission_id=rule.mission_id if rule else None,
                reward=reward,
                unit=unit,
                generation=generation,
                kind=kind,
                points=points,
                point_type=point_type,
                reason=reason[:200],
                occurred_at=when,
            )
        )
        balances[member_id][point_type] = balances[member_id].get(point_type, 0) + points

    for key in sorted(set(state) | set(desired)):
        member_id, reward, unit = key
        s = state.get(key, {"generation": 0, "reversed": set(), "points": {}})
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
    result.points_delta += sum(x.points for x in new_lines)
    changed_members.update(x.member_id for x in new_lines)

    # Stamp cards: the summary of the above, for every member of the chunk.
    lottery_rules = [r for r in rules if r.counts_for_lottery]
    cards = []
    for member_id in member_ids:
        is_entered = member_id in entered
        cleared = 0
        if is_entered:
            cleared = sum(1 for r in rules if (o := outcomes.get((member_id, r.mission_id))) and o.cleared)
        eligible = (
            is_entered
            and bool(lottery_rules)
            and all((o := outcomes.get((member_id, r.mission_id))) and o.cleared for r in lottery_rules)
        )
        balance = balances.get(member_id, {})
        cards.append(
            StampCard(
                campaign=campaign,
                member_id=member_id,
                entered=is_entered,
                stamps_cleared=cleared,
                points_limited=balance.get("limited", 0),
                points_basic=balance.get("basic", 0),
                lottery_eligible=eligible,
                scored_at=now,
            )
        )
    result.members_changed += len(changed_members)
    if dry_run:
        return
    if upserts:
        Stamp.objects.bulk_create(
            upserts,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["member", "mission"],
            update_fields=[
                "progress",
                "target",
                "cleared",
                "cleared_at",
                "cleared_by_transaction",
                "cleared_by_video_view",
                "updated_at",
            ],
        )
    if new_lines:
        LedgerLine.objects.bulk_create(new_lines, batch_size=2000, ignore_conflicts=True)
    StampCard.objects.bulk_create(
        cards,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["campaign", "member"],
        update_fields=["entered", "stamps_cleared", "points_limited", "points_basic", "lottery_eligible", "scored_at"],
    )
