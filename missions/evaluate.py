"""What each member of a chunk achieved on each mission, before entry gating, in SQL on both databases.

The chunk's member ids are in the temporary table ``_members``; the outcomes go to ``_out``
(member, mission → progress, target, cleared_at, the record that cleared it) and ``_unit``
(per-unit reward times). Record missions are one statement for all of them: every countable
record of the chunk gets the kinds' flags and running progress over the member's records in
time order (one sort), and the record at which a mission's progress first reaches its target is
the one that cleared it. The same statements run on SQLite and PostgreSQL; ``sql_dialect`` holds
the few expressions that differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from campaign.models import Campaign, Transaction, VideoView
from merchants.models import Merchant
from missions.kinds import BASE_CHECKS
from missions.models import Video
from missions.rules import Rule

WINDOW = "WINDOW w AS (PARTITION BY member_id ORDER BY occurred_at, transaction_id)"
ENTERED = "member_id IN (SELECT member_id FROM _entered)"


def sql_dialect() -> dict[str, str]:
    """The expressions that differ between PostgreSQL and SQLite.

    ``fence`` keeps PostgreSQL from folding a subquery into its caller: folded, the record's local
    time is computed again in every mission's check (a third of the scoring statement's time).
    """
    if connection.vendor == "postgresql":
        return {
            "local_seconds": "(floor(date_part('epoch', t.occurred_at))::bigint + 32400)",
            "least": "least",
            "fence": " OFFSET 0",
        }
    # SQLite's date functions round to the millisecond (09:59:59.999999 became 10:00:00): read the whole
    # seconds only ('YYYY-MM-DD HH:MM:SS' as stored), which floors the time as PostgreSQL's floor() does.
    return {
        "local_seconds": "(CAST(strftime('%%s', substr(t.occurred_at, 1, 19)) AS INTEGER) + 32400)",
        "least": "min",
        "fence": "",
    }


def period_params(campaign: Campaign) -> dict:
    ops = connection.ops
    return {
        "campaign": campaign.pk,
        "starts": ops.adapt_datetimefield_value(campaign.starts_at),
        "ends": ops.adapt_datetimefield_value(campaign.ends_at),
    }


def records_sql(*, rules: Sequence[Rule], members: str, explain: bool = False) -> str:
    """One row per countable record of ``members`` (an SQL condition on ``t.member_id``).

    Per record mission k, in ``rules`` order: ``q{k}`` (1: the record qualifies) and ``p{k}`` (the
    member's progress after it; the scorer leaves it out for a target of 1, see ``_progress_of``);
    ``rn`` is the record's rank in the member's time order. With
    ``explain`` every record is kept (the scorer keeps those that qualify somewhere), with ``r{k}``
    (the first check it fails), ``v{k}`` (the progress before it) and ``g{k}`` (it added to it).
    """
    tx = Transaction._meta.db_table
    merchant = Merchant._meta.db_table
    dialect = sql_dialect()
    countable = " AND ".join(check(tx) for _reason, check in BASE_CHECKS)
    base = (
        f"SELECT t.id, t.transaction_id, t.member_id, t.type, t.occurred_at, t.merchant_code,"
        f" CASE WHEN t.type = 'payment' THEN t.amount - t.points_used ELSE t.amount END AS elig,"
        f" {dialect['local_seconds']} AS ls,"
        f" CASE WHEN t.merchant_code IN (SELECT code FROM {merchant} WHERE on_bonus_list AND is_active)"
        f" THEN 1 ELSE 0 END AS bonus"
        f" FROM {tx} t WHERE t.campaign_id = %(campaign)s AND {members} AND {countable}"
    )
    days = (
        f"SELECT a.*, ls / 86400 AS d, ls %% 86400 AS tod, ((ls / 86400 + 3) %% 7) + 1 AS dow"
        f" FROM ({base}{dialect['fence']}) a"
    )
    flags, steps = [], {2: ["row_number() OVER w AS rn"], 3: [], 4: []}
    for k, rule in enumerate(rules):
        checks = rule.kind_def.checks(rule)
        flags.append(f"CASE WHEN {' AND '.join(f'({c.sql})' for c in checks)} THEN 1 ELSE 0 END AS q{k}")
        if explain:
            failed = " ".join(f"WHEN NOT ({c.sql}) THEN '{c.reason}'" for c in checks)
            flags.append(f"CASE {failed} END AS r{k}")
        for step in rule.kind_def.progress_sql(k) if explain or _progress_of(rule, k) == f"p{k}" else ():
            steps[step.level].append(f"{step.sql} AS {step.name}")
    query = f"SELECT b.*, {', '.join(flags)} FROM ({days}) b"
    if not explain:
        query = f"SELECT * FROM ({query}) x1 WHERE " + " OR ".join(f"q{k} = 1" for k in range(len(rules)))
    for level in (2, 3, 4):
        if steps[level]:
            query = f"SELECT x{level}.*, {', '.join(steps[level])} FROM ({query}) x{level} {WINDOW}"
    if explain:
        before = ", ".join(f"coalesce(lag(p{k}) OVER w, 0) AS v{k}" for k in range(len(rules)))
        query = f"SELECT x5.*, {before} FROM ({query}) x5 {WINDOW}"
        gained = ", ".join(
            f"CASE WHEN {r.kind_def.gained_sql(k)} THEN 1 ELSE 0 END AS g{k}" for k, r in enumerate(rules)
        )
        query = f"SELECT x6.*, {gained} FROM ({query}) x6"
    return query


def _progress_of(rule: Rule, k: int) -> str:
    """The column the scorer reads as record mission k's progress. Every kind's progress reaches 1 at
    the first record that qualifies, so for a target of 1 (most missions) the record's flag serves and
    no running progress is computed."""
    return f"q{k}" if int(rule.target) == 1 else f"p{k}"


_ID_BITS = 40  # record pks stay below 2**40: the record's rank is packed above its pk


def _first(condition: str, column: str = "id") -> str:
    """The pk (or time) of the member's first record, in time order, meeting ``condition``.

    Progress never decreases, so the first record at which it reaches a value is the one with the
    smallest rank among those at or above it: min(rank << 40 | pk) finds it in the same grouping pass.
    """
    if column == "occurred_at":  # time order is the rank's order
        return f"min(CASE WHEN {condition} THEN occurred_at END)"
    return f"(min(CASE WHEN {condition} THEN rn * {1 << _ID_BITS} + id END) %% {1 << _ID_BITS})"


def _records_insert(run, *, campaign: Campaign, rules: Sequence[Rule]) -> None:
    """Record missions: the running progress of each member, grouped into ``_out`` and ``_unit``."""
    counting = [r for r in rules if r.counts_records]
    if not counting:
        return
    ranked = records_sql(rules=counting, members="t.member_id IN (SELECT member_id FROM _members)")
    least = sql_dialect()["least"]
    columns, units = ["member_id IN (SELECT member_id FROM _entered) AS entered"], []
    for k, rule in enumerate(counting):
        progress = _progress_of(rule, k)
        reached = f"{progress} >= {int(rule.target)}"
        columns += [
            f"max({progress}) AS c{k}",
            f"{_first(reached)} AS i{k}",
            f"{_first(reached, 'occurred_at')} AS a{k}",
        ]
        for n in range(1, int(rule.target) + 1) if rule.unit_points else ():
            columns.append(f"{_first(f'{progress} >= {n}', 'occurred_at')} AS u{k}_{n}")
            units.append(f"SELECT member_id, {rule.mission_id}, {n}, u{k}_{n} FROM _eval WHERE u{k}_{n} IS NOT NULL")
    run("DROP TABLE IF EXISTS _eval")
    run(
        f"CREATE TEMP TABLE _eval AS SELECT member_id, {', '.join(columns)} FROM ({ranked}) h GROUP BY member_id",
        period_params(campaign),
    )
    outcomes = " UNION ALL ".join(
        f"SELECT member_id, {r.mission_id}, {least}(c{k}, {int(r.target)}), {int(r.target)}, entered, a{k}, i{k}"
        f" FROM _eval WHERE c{k} > 0"
        for k, r in enumerate(counting)
    )
    run(f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, tx_pk) {outcomes}")
    if units:
        run(f"INSERT INTO _unit (member_id, mission_id, unit, at) {' UNION ALL '.join(units)}")
    run("DROP TABLE _eval")


def _videos_insert(run, *, campaign: Campaign, rules: Sequence[Rule]) -> None:
    """Video missions: the member's views in time order; the target-th view clears, each view is a unit."""
    ranked = (
        f'SELECT vv.id, vv.member_id, vv.watched_at, v."order" AS video_order, row_number() OVER ('
        f'PARTITION BY vv.member_id ORDER BY vv.watched_at, v."order", vv.id) AS n '
        f"FROM {VideoView._meta.db_table} vv LEFT JOIN {Video._meta.db_table} v ON v.id = vv.video_id "
        f"WHERE vv.campaign_id = %(campaign)s AND vv.member_id IN (SELECT member_id FROM _members)"
    )
    least = sql_dialect()["least"]
    for rule in (r for r in rules if r.kind == "video"):
        target, params = int(rule.target), {"campaign": campaign.pk, "mission": rule.mission_id}
        run(
            f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, vv_pk) "
            f"SELECT member_id, %(mission)s, {least}(count(*), {target}), {target}, {ENTERED},"
            f" max(CASE WHEN n = {target} THEN watched_at END), max(CASE WHEN n = {target} THEN id END)"
            f" FROM ({ranked}) x GROUP BY member_id",
            params,
        )
        if rule.unit_points:  # a unit is the video's order (or the view's rank without one)
            unit = "coalesce(nullif(video_order, 0), n)"
            run(
                f"INSERT INTO _unit (member_id, mission_id, unit, at) SELECT member_id, %(mission)s, {unit},"
                f" max(watched_at) FROM ({ranked}) x WHERE n <= {target} GROUP BY member_id, {unit}",
                params,
            )


def completions_ordered(rules: Sequence[Rule]) -> list[Rule]:
    """Completion rules so that one requiring another completion comes after it (cycles keep their order)."""
    pending = [r for r in rules if r.kind == "completion"]
    codes = {r.code for r in pending}
    ordered: list[Rule] = []
    while pending:
        placed = {r.code for r in ordered}
        ready = [r for r in pending if not (set(r.requires) & codes) - placed - {r.code}] or pending[:1]
        ordered += ready
        pending = [r for r in pending if r not in ready]
    return ordered


def _completions_insert(run, *, rules: Sequence[Rule]) -> None:
    """Completion missions from the outcomes already in ``_out``: cleared when the last required one is."""
    by_code = {r.code: r for r in rules}
    least = sql_dialect()["least"]
    for rule in completions_ordered(rules):
        required = [by_code[c].mission_id for c in rule.requires if c in by_code]
        if not required:
            continue
        position = " ".join(f"WHEN {mission_id} THEN {n}" for n, mission_id in enumerate(required))
        done = f"cnt = {len(required)}"
        run(
            f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, tx_pk, vv_pk) "
            f"SELECT member_id, {rule.mission_id}, {least}(cnt, {int(rule.target)}), {int(rule.target)}, {ENTERED},"
            f" CASE WHEN {done} THEN cleared_at END, CASE WHEN {done} THEN tx_pk END, CASE WHEN {done} THEN vv_pk END"
            f" FROM (SELECT o.member_id, o.cleared_at, o.tx_pk, o.vv_pk,"
            f"  count(*) OVER (PARTITION BY o.member_id) AS cnt,"
            f"  row_number() OVER (PARTITION BY o.member_id"
            f"   ORDER BY o.cleared_at DESC, CASE o.mission_id {position} END) AS latest"
            f"  FROM _out o WHERE o.cleared_at IS NOT NULL AND o.mission_id IN ({', '.join(map(str, required))})) x"
            f" WHERE latest = 1"
        )


def outcomes_insert(run, *, campaign: Campaign, rules: Sequence[Rule]) -> None:
    """Fill ``_out`` and ``_unit`` for the members in ``_members`` (and whether each is in ``_entered``)."""
    ts = sql_timestamp()
    run(
        "CREATE TEMP TABLE _out (member_id varchar(64) NOT NULL, mission_id bigint NOT NULL,"
        " progress integer NOT NULL, target integer NOT NULL, entered boolean NOT NULL,"
        f" cleared_at {ts}, tx_pk bigint, vv_pk bigint)"
    )
    run(
        "CREATE TEMP TABLE _unit (member_id varchar(64) NOT NULL, mission_id bigint NOT NULL,"
        f" unit integer NOT NULL, at {ts} NOT NULL)"
    )
    _records_insert(run, campaign=campaign, rules=rules)
    _videos_insert(run, campaign=campaign, rules=rules)
    _completions_insert(run, rules=rules)


def sql_timestamp() -> str:
    return "timestamptz" if connection.vendor == "postgresql" else "timestamp"
