"""The scoring engine's PostgreSQL fast path: a chunk of members scored and written without leaving the database.

``engine._chunk_compute_and_write`` fetches each member's outcomes into Python, compares them with
the stored stamps and ledger there and writes the difference. On PostgreSQL this module does the
same work as a handful of set-based statements over temporary tables, so no per-member object is
ever built in Python:

1. ``_out`` — (member, mission) → progress, cleared_at and the record that completed it, from the
   engine's own record statement (``engine.records_query``, unpivoted), the video views ranked in
   SQL, and the completion missions in dependency order; ``_unit`` holds per-unit reward times;
2. stamps — one ``INSERT … ON CONFLICT DO UPDATE`` of the rows whose wanted state differs from the
   stored one (withdrawn stamps go back to zero);
3. ledger — the stored lines' latest generation per reward and unit, fully joined with the wanted
   awards, gives reversal and award lines exactly as the Python diff does;
4. cards — entered, stamps cleared, balances by point type and lottery eligibility for every member.

The Python path stays the reference (SQLite, dry runs, the admin's preview of a rule change); the
test suite runs every scoring test on both databases, and ``tests/missions/test_engine_sql.py``
scores the same random months through both paths on PostgreSQL and compares every row.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from campaign import clock
from campaign.models import Campaign, Entry, Transaction, VideoView
from merchants.models import Merchant
from missions.engine import (
    LOTTERY_REWARD,
    MemberFilter,
    ScoreResult,
    _qualifies_sql,
    ids_array_param,
    ids_array_sql,
    records_query,
)
from missions.models import LedgerKind, LedgerLine, MissionKind, Stamp, StampCard, Video
from missions.rules import Rule


def _values(rows: Sequence[tuple], types: Sequence[str]) -> tuple[str, list]:
    """A ``VALUES`` list with typed placeholders, and its parameters."""
    row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    return ", ".join([row_sql] * len(rows)), [value for row in rows for value in row]


def _completions_ordered(rules: Sequence[Rule]) -> list[Rule]:
    """Completion rules so that one requiring another completion comes after it (cycles keep their order)."""
    completions = [r for r in rules if r.kind == MissionKind.COMPLETION]
    codes = {r.code for r in completions}
    ordered: list[Rule] = []
    placed: set[str] = set()
    pending = list(completions)
    while pending:
        ready = [r for r in pending if not (set(r.requires) & codes) - placed - {r.code}]
        if not ready:  # a cycle: such missions can never all be cleared; evaluate them as listed
            ready = pending[:1]
        for rule in ready:
            ordered.append(rule)
            placed.add(rule.code)
            pending.remove(rule)
    return ordered


def chunk_write_sql(
    *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter, result: ScoreResult, cards_stored: bool = True
) -> None:
    """Score the chunk ``members`` on PostgreSQL, inside the caller's transaction (cards already locked).

    ``cards_stored`` False says the chunk's members have no card yet (the caller found none to
    lock): the cards then go in as plain inserts. Should another scorer have written one of them
    meanwhile, the unique constraint refuses the chunk, as it does for new stamps.
    """
    now = clock.now()
    member_sql, member_params = members.sql("member_id")
    with connection.cursor() as cursor:

        def run(sql: str, params: Sequence = ()) -> None:
            cursor.execute(sql, list(params))

        def one(sql: str, params: Sequence = ()) -> tuple:
            cursor.execute(sql, list(params))
            return cursor.fetchone()

        # The temporary tables' statistics only need their sizes and rough spreads: a small sample
        # (3,000 rows, not 30,000) is a tenth of the cost, for the same plans.
        run("SET LOCAL default_statistics_target = 10")
        # The chunk's entered members first: every outcome row carries whether its member is entered
        # (and its mission's target), so the stamps, ledger and cards read ``_out`` without joins.
        run(
            f"CREATE TEMP TABLE _entered ON COMMIT DROP AS SELECT DISTINCT member_id FROM {Entry._meta.db_table} "
            f"WHERE campaign_id = %s AND {member_sql}",
            [campaign.pk, *member_params],
        )
        run("ALTER TABLE _entered ADD PRIMARY KEY (member_id)")
        run("ANALYZE _entered")
        run(
            "CREATE TEMP TABLE _out (member_id varchar(64) NOT NULL, mission_id bigint NOT NULL,"
            " progress integer NOT NULL, target integer NOT NULL, entered boolean NOT NULL, cleared_at timestamptz,"
            " tx_pk bigint, vv_pk bigint) ON COMMIT DROP"
        )
        run(
            "CREATE TEMP TABLE _unit (member_id varchar(64) NOT NULL, mission_id bigint NOT NULL,"
            " unit integer NOT NULL, at timestamptz NOT NULL) ON COMMIT DROP"
        )
        _records_insert(run, campaign=campaign, rules=rules, members=members)
        _videos_insert(run, campaign=campaign, rules=rules, members=members)
        _completions_insert(run, rules=rules)
        run("ANALYZE _out")

        # The rules as a table: what the stamps and the ledger need of each mission.
        rule_rows = [
            (
                r.mission_id,
                r.code,
                r.target,
                r.reward_points,
                r.unit_points or 0,
                r.point_type,
                r.counts_for_lottery,
            )
            for r in rules
        ]
        run(
            "CREATE TEMP TABLE _rule (mission_id bigint PRIMARY KEY, code varchar(32) UNIQUE, target integer,"
            " reward_points integer, unit_points integer, point_type varchar(16), lottery boolean) ON COMMIT DROP"
        )
        if rule_rows:
            values, params = _values(rule_rows, ["bigint", "varchar", "int", "int", "int", "varchar", "boolean"])
            run(f"INSERT INTO _rule VALUES {values}", params)
        # Statistics for the temporary tables, or the planner guesses their sizes (and picks nested
        # loops over hundreds of thousands of rows).
        run("ANALYZE _rule, _unit")

        stamp, ledger = Stamp._meta.db_table, LedgerLine._meta.db_table
        stamp_members = members.sql("s.member_id")[0]

        def holds(rows: str) -> str:
            """Whether ``rows`` (a FROM … WHERE over the chunk's members) holds any row."""
            if members.as_range:
                # The first id of the range, read from the index: an EXISTS over a range with no row
                # (a cold chunk) was planned as a scan of the table the earlier chunks had just filled.
                return f"(SELECT min(member_id) FROM {rows}) IS NOT NULL"
            return f"EXISTS (SELECT 1 FROM {rows})"

        stored, lines_stored = one(
            f"SELECT {holds(f'{stamp} WHERE campaign_id = %s AND {member_sql}')},"
            f" {holds(f'{ledger} WHERE campaign_id = %s AND {member_sql} AND reward <> %s')}",
            [campaign.pk, *member_params, campaign.pk, *member_params, LOTTERY_REWARD],
        )
        # Members scored for the first time (a cold full re-score, an import of new members): every
        # outcome is a new stamp and every wanted reward a first award; nothing to compare with.
        cold = not stored and not lines_stored
        if not cold:  # the members whose stamps or lines change, counted once at the end
            run("CREATE TEMP TABLE _changed (member_id varchar(64) NOT NULL) ON COMMIT DROP")
        # What every (member, mission) with an outcome should show: cleared only for entered members.
        wanted = (
            "wanted AS ("
            " SELECT o.member_id, o.mission_id, o.progress, o.target,"
            "  (o.entered AND o.cleared_at IS NOT NULL) AS cleared,"
            "  CASE WHEN o.entered THEN o.cleared_at END AS cleared_at,"
            "  CASE WHEN o.entered AND o.cleared_at IS NOT NULL THEN o.tx_pk END AS tx_pk,"
            "  CASE WHEN o.entered AND o.cleared_at IS NOT NULL THEN o.vv_pk END AS vv_pk"
            " FROM _out o)"
        )

        def inserted(source: str) -> str:
            # New stamps go straight in (no speculative insertion): only holders of the chunk's card
            # locks write its stamps; should one exist after all, the unique constraint refuses the
            # chunk. In member order, the unique index fills page by page (a third faster than in a
            # hash join's order); "C" because the order only needs to group a member's rows.
            return (
                f"inserted AS ("
                f" INSERT INTO {stamp} (campaign_id, member_id, mission_id, progress, target, cleared, cleared_at,"
                f"  cleared_by_transaction_id, cleared_by_video_view_id, updated_at)"
                f" SELECT %s, member_id, mission_id, progress, target, cleared, cleared_at, tx_pk, vv_pk, %s"
                f' FROM {source} ORDER BY member_id COLLATE "C" RETURNING member_id)'
            )

        if cold:
            # Every member with an outcome gets stamps, and only such a member can get an award:
            # the members changed are the stamps' (no list of them to keep for the ledger's).
            changed, members_changed = one(
                f'WITH {wanted}, {inserted("wanted")} SELECT count(*), count(DISTINCT member_id COLLATE "C")'
                f" FROM inserted",
                [campaign.pk, now],
            )
            result.members_changed += members_changed
        elif not stored:
            (changed,) = one(
                f"WITH {wanted}, {inserted('wanted')},"
                f" noted AS (INSERT INTO _changed SELECT DISTINCT member_id FROM inserted RETURNING 1)"
                f" SELECT count(*) FROM inserted",
                [campaign.pk, now],
            )
        else:
            # The wanted state, or zero for a stored stamp with progress whose mission no longer
            # has an outcome; write only what differs.
            (changed,) = one(
                f"WITH {wanted}, stored AS ("
                f" SELECT s.id, s.member_id, s.mission_id, s.progress, s.target, s.cleared, s.cleared_at,"
                f"  s.cleared_by_transaction_id AS tx_pk, s.cleared_by_video_view_id AS vv_pk, r.target AS rule_target"
                f" FROM {stamp} s LEFT JOIN _rule r USING (mission_id) WHERE s.campaign_id = %s AND {stamp_members}"
                f"), diff AS ("
                f" SELECT s.id, w.member_id IS NOT NULL AS has_outcome,"
                f"  coalesce(w.member_id, s.member_id) AS member_id,"
                f"  coalesce(w.mission_id, s.mission_id) AS mission_id,"
                f"  coalesce(w.progress, 0) AS progress, coalesce(w.target, s.rule_target, s.target) AS target,"
                f"  coalesce(w.cleared, false) AS cleared, w.cleared_at, w.tx_pk, w.vv_pk,"
                f"  (s.progress, s.target, s.cleared, s.cleared_at, s.tx_pk, s.vv_pk) AS old,"
                f"  s.progress > 0 OR s.cleared AS old_progress"
                f" FROM wanted w FULL JOIN stored s ON s.member_id = w.member_id AND s.mission_id = w.mission_id"
                f"), changes AS MATERIALIZED ("
                f" SELECT * FROM diff WHERE id IS NULL OR ((has_outcome OR old_progress)"
                f"  AND old IS DISTINCT FROM (progress, target, cleared, cleared_at, tx_pk, vv_pk))"
                f"), updated AS ("
                f" UPDATE {stamp} s SET progress = c.progress, target = c.target, cleared = c.cleared,"
                f"  cleared_at = c.cleared_at, cleared_by_transaction_id = c.tx_pk, cleared_by_video_view_id = c.vv_pk,"
                f"  updated_at = %s FROM changes c"
                # The stamps to update by their key (an index scan whatever the planner believes
                # of the changes): a join alone hashed every stamp of the table to update a few.
                f" WHERE s.id = ANY(ARRAY(SELECT id FROM changes WHERE id IS NOT NULL)) AND s.id = c.id"
                f" RETURNING s.member_id"
                f"), {inserted('changes WHERE id IS NULL')}, noted AS ("
                f" INSERT INTO _changed SELECT DISTINCT member_id FROM updated"
                f" UNION ALL SELECT DISTINCT member_id FROM inserted RETURNING 1"
                f") SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)",
                [campaign.pk, *member_params, now, campaign.pk, now],
            )
        result.stamps_changed += changed

        # Ledger: per (member, reward, unit), the latest award generation and whether it was reversed,
        # against what an entered member should hold now. A changed or withdrawn reward reverses the
        # active line; a wanted reward not active is awarded as the next generation.
        award, reversal = str(LedgerKind.AWARD), str(LedgerKind.REVERSAL)
        desired = (
            "desired AS ("
            " SELECT o.member_id, r.code AS reward, 1 AS unit, r.reward_points AS points, o.cleared_at AS at"
            " FROM _out o JOIN _rule r USING (mission_id)"
            " WHERE o.entered AND r.unit_points = 0 AND o.cleared_at IS NOT NULL"
            " UNION ALL"
            " SELECT u.member_id, r.code, u.unit, r.unit_points, u.at"
            " FROM _unit u JOIN _rule r USING (mission_id) JOIN _entered USING (member_id) WHERE r.unit_points > 0)"
        )
        award_reason = "left(d.reward || CASE WHEN r.unit_points > 0 THEN ' unit ' || d.unit ELSE ' cleared' END, 200)"
        # In member order, the unique index fills page by page ("C": the order only groups a member's lines).
        columns = "campaign_id, member_id, mission_id, reward, unit, generation, kind, points, point_type, reason"
        columns += ", occurred_at, created_at"
        if cold:
            # No line to continue or reverse: every wanted reward is the first generation's award.
            awards, delta = one(
                f"WITH {desired}, written AS ("
                f" INSERT INTO {ledger} ({columns})"
                f" SELECT %s, d.member_id, r.mission_id, d.reward, d.unit, 1, %s, d.points, r.point_type,"
                f"  {award_reason}, d.at, %s"
                f' FROM desired d JOIN _rule r ON r.code = d.reward WHERE d.points > 0 ORDER BY d.member_id COLLATE "C"'
                f" RETURNING points"
                f") SELECT count(*), coalesce(sum(points), 0) FROM written",
                [campaign.pk, award, now],
            )
            reversals = 0
        else:
            awards, reversals, delta = one(
                f"WITH lines AS ("
                f" SELECT member_id, reward, unit, generation, kind, points,"
                f"  max(generation) FILTER (WHERE kind = %s) OVER (PARTITION BY member_id, reward, unit) AS latest"
                f" FROM {ledger} WHERE campaign_id = %s AND {member_sql} AND reward <> %s"
                f"), state AS ("
                f" SELECT member_id, reward, unit, coalesce(max(latest), 0) AS generation,"
                f"  coalesce(sum(points) FILTER (WHERE generation = latest AND kind = %s), 0) AS held,"
                f"  bool_or(generation = latest AND kind = %s) AS reversed"
                f" FROM lines GROUP BY member_id, reward, unit"
                f"), {desired}, diff AS ("
                f" SELECT coalesce(s.member_id, d.member_id) AS member_id, coalesce(s.reward, d.reward) AS reward,"
                f"  coalesce(s.unit, d.unit) AS unit, coalesce(s.generation, 0) AS generation,"
                f"  (coalesce(s.generation, 0) > 0 AND NOT coalesce(s.reversed, false)) AS active,"
                f"  coalesce(s.held, 0) AS held, d.points AS want, d.at"
                f" FROM state s FULL JOIN desired d"
                f"  ON d.member_id = s.member_id AND d.reward = s.reward AND d.unit = s.unit"
                f"), new_lines AS ("
                f" SELECT d.member_id, r.mission_id, d.reward, d.unit, d.generation, %s AS kind,"
                f"  -d.held AS points,"
                f"  coalesce(r.point_type, 'limited') AS point_type,"
                f"  left(d.reward || CASE WHEN d.want IS NULL THEN ' withdrawn: no longer met'"
                f"   ELSE ' reward changed' END, 200) AS reason, %s::timestamptz AS occurred_at"
                f" FROM diff d LEFT JOIN _rule r ON r.code = d.reward"
                f" WHERE d.active AND (d.want IS NULL OR d.want <> d.held)"
                f" UNION ALL"
                f" SELECT d.member_id, r.mission_id, d.reward, d.unit, d.generation + 1, %s, d.want,"
                f"  r.point_type, {award_reason}, d.at"
                f" FROM diff d JOIN _rule r ON r.code = d.reward"
                f" WHERE d.want > 0 AND (NOT d.active OR d.want <> d.held)"
                f"), written AS ("
                f" INSERT INTO {ledger} ({columns})"
                f" SELECT %s, member_id, mission_id, reward, unit, generation, kind, points, point_type, reason,"
                f'  occurred_at, %s FROM new_lines ORDER BY member_id COLLATE "C"'
                f" RETURNING member_id, kind, points"
                f"), noted AS (INSERT INTO _changed SELECT DISTINCT member_id FROM written RETURNING 1)"
                f" SELECT count(*) FILTER (WHERE kind = %s), count(*) FILTER (WHERE kind = %s),"
                f" coalesce(sum(points), 0) FROM written",
                [
                    award,
                    campaign.pk,
                    *member_params,
                    LOTTERY_REWARD,
                    award,
                    reversal,
                    reversal,
                    now,
                    award,
                    campaign.pk,
                    now,
                    award,
                    reversal,
                ],
            )
            (members_changed,) = one('SELECT count(DISTINCT member_id COLLATE "C") FROM _changed')
            result.members_changed += members_changed
        result.awards += awards
        result.reversals += reversals
        result.points_delta += int(delta)

        # Cards: the summary of the above for every member of the chunk.
        lottery_needed = sum(1 for r in rules if r.counts_for_lottery)
        card = StampCard._meta.db_table
        run(
            f"INSERT INTO {card} (campaign_id, member_id, entered, stamps_cleared, points_limited, points_basic,"
            f" lottery_eligible, scored_at)"
            f" SELECT %s, m.member_id, e.member_id IS NOT NULL, coalesce(c.cleared, 0), coalesce(b.limited, 0),"
            f"  coalesce(b.basic, 0), e.member_id IS NOT NULL AND %s > 0 AND coalesce(c.lottery, 0) = %s, %s"
            f" FROM unnest({ids_array_sql()}) AS m(member_id)"
            f" LEFT JOIN _entered e USING (member_id)"
            f" LEFT JOIN (SELECT o.member_id, count(*) AS cleared, count(*) FILTER (WHERE r.lottery) AS lottery"
            f"  FROM _out o JOIN _rule r USING (mission_id)"
            f"  WHERE o.entered AND o.cleared_at IS NOT NULL GROUP BY o.member_id) c USING (member_id)"
            f" LEFT JOIN (SELECT member_id, sum(points) FILTER (WHERE point_type = 'limited') AS limited,"
            f"  sum(points) FILTER (WHERE point_type = 'basic') AS basic"
            f"  FROM {ledger} WHERE campaign_id = %s AND {member_sql} GROUP BY member_id) b USING (member_id)"
            f" ORDER BY m.member_id"
            + (
                " ON CONFLICT (campaign_id, member_id) DO UPDATE SET entered = EXCLUDED.entered,"
                "  stamps_cleared = EXCLUDED.stamps_cleared, points_limited = EXCLUDED.points_limited,"
                "  points_basic = EXCLUDED.points_basic, lottery_eligible = EXCLUDED.lottery_eligible,"
                "  scored_at = EXCLUDED.scored_at"
                if cards_stored
                else ""  # no card to update: a plain insert, without a speculative insertion per card
            ),
            [
                campaign.pk,
                lottery_needed,
                lottery_needed,
                now,
                ids_array_param(members.ids),
                campaign.pk,
                *member_params,
            ],
        )
        for table in ("_out", "_unit", "_rule", "_entered", *([] if cold else ["_changed"])):
            run(f"DROP TABLE {table}")


def _with_entered(query: str) -> str:
    """The rows of ``query`` (one per member) with ``entered``: whether the member is in ``_entered``."""
    return f"SELECT q.*, q.member_id IN (SELECT member_id FROM _entered) AS entered FROM ({query}) q"


def _records_insert(run, *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter) -> None:
    """The engine's record statement, one row per member, unpivoted into ``_out`` (and ``_unit``)."""
    counting = [r for r in rules if r.counts_records]
    if not counting:
        return
    lean = _lean_records_query(campaign=campaign, counting=counting, members=members)
    if lean is not None:
        query, params = lean
        rows = ", ".join(f"({r.mission_id}, {int(r.target)}, c{k}, i{k}, a{k})" for k, r in enumerate(counting))
        run(
            f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, tx_pk) "
            f"SELECT e.member_id, v.mission_id, least(v.c, v.target), v.target, e.entered, v.at, v.pk "
            f"FROM ({_with_entered(query)}) e CROSS JOIN LATERAL (VALUES {rows}) AS v(mission_id, target, c, pk, at)"
            f" WHERE v.c > 0",
            params,
        )
        return
    query, params = records_query(campaign=campaign, counting=counting, members=members, micros=False)
    outcome_rows = ", ".join(f"({r.mission_id}, {int(r.target)}, c{k}, i{k}, a{k})" for k, r in enumerate(counting))
    unpivot = (
        f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, tx_pk) "
        f"SELECT e.member_id, v.mission_id, least(v.c, v.target), v.target, e.entered,"
        f" CASE WHEN v.pk IS NOT NULL THEN v.at END, v.pk "
        f"FROM ({_with_entered('SELECT * FROM evaluated')}) e"
        f" CROSS JOIN LATERAL (VALUES {outcome_rows}) AS v(mission_id, target, c, pk, at) "
        f"WHERE v.c > 0"
    )
    unit_rows = [
        f"({r.mission_id}, {n}, u{k}_{n})"
        for k, r in enumerate(counting)
        if r.unit_points
        for n in range(1, int(r.target) + 1)
    ]
    if not unit_rows:
        run(f"WITH evaluated AS ({query}) {unpivot}", params)
        return
    run(
        f"WITH evaluated AS MATERIALIZED ({query}), outcomes AS ({unpivot} RETURNING 1) "
        f"INSERT INTO _unit (member_id, mission_id, unit, at) "
        f"SELECT e.member_id, v.mission_id, v.unit, v.at "
        f"FROM evaluated e CROSS JOIN LATERAL (VALUES {', '.join(unit_rows)}) AS v(mission_id, unit, at) "
        f"WHERE v.at IS NOT NULL",
        params,
    )


_ID_BITS = 40  # record pks below 2**40; the rank of the record goes above them


def _lean_records_query(
    *, campaign: Campaign, counting: Sequence[Rule], members: MemberFilter
) -> tuple[str, list] | None:
    """``engine.records_query``'s result (without per-unit times) at a fraction of its cost, or None.

    The general statement keeps a running count per mission over every record. Here one window
    pass carries only what needs it: the record's rank in the member's time order, a running count
    for missions needing more than one record, and for "different days" a running bit mask of the
    JST days with a qualifying record (its bit count is the number of days so far). A mission needing
    one record is cleared by its first qualifying record: the smallest (rank, pk) packed in one
    bigint. Rules with per-unit rewards, or a period longer than 63 days, take the general statement.
    """
    if any(r.unit_points for r in counting):
        return None
    first_day = (int(campaign.starts_at.timestamp()) + 32400) // 86400
    last_day = (int(campaign.ends_at.timestamp()) + 32400) // 86400
    if last_day - first_day >= 63:
        return None
    tx, merchant = Transaction._meta.db_table, Merchant._meta.db_table
    member_sql, member_params = members.sql("t.member_id")
    base = (
        f"SELECT id, transaction_id, member_id, type, occurred_at, elig, ls / 86400 AS d, ls %% 86400 AS tod,"
        f" ((ls / 86400 + 3) %% 7) + 1 AS dow, bonus FROM ("
        f"SELECT t.id, t.transaction_id, t.member_id, t.type, t.occurred_at,"
        f" CASE WHEN t.type = 'payment' THEN t.amount - t.points_used ELSE t.amount END AS elig,"
        f" (floor(date_part('epoch', t.occurred_at))::bigint + 32400) AS ls,"
        f" CASE WHEN t.merchant_code IN (SELECT code FROM {merchant} WHERE on_bonus_list AND is_active)"
        f" THEN 1 ELSE 0 END AS bonus"
        f" FROM {tx} t WHERE t.campaign_id = %s AND t.type IN ('payment', 'charge')"
        f" AND t.occurred_at >= %s AND t.occurred_at < %s AND {member_sql}"
        f" AND t.amount - (CASE WHEN t.type = 'payment' THEN t.points_used ELSE 0 END) > 0"
        f" AND NOT EXISTS (SELECT 1 FROM {tx} c WHERE c.type = 'cancel'"
        f" AND c.original_transaction_id = t.transaction_id)) a"
    )
    params = [campaign.pk, campaign.starts_at, campaign.ends_at, *member_params]
    flags, running, final = [], [], []
    for k, rule in enumerate(counting):
        condition, _extra = _qualifies_sql(rule)
        flags.append(f"({condition}) AS q{k}")
        target = int(rule.target)
        if rule.distinct_days:
            running.append(f"bit_or(CASE WHEN q{k} THEN 1::bigint << (d - {first_day})::int ELSE 0 END) OVER w AS m{k}")
            final.append(f"bit_count(max(m{k})::bit(64))::int AS c{k}")
            reached = f"bit_count(m{k}::bit(64)) >= {target}"
        elif target > 1:
            running.append(f"count(*) FILTER (WHERE q{k}) OVER w AS r{k}")
            final.append(f"count(*) FILTER (WHERE q{k})::int AS c{k}")
            reached = f"q{k} AND r{k} = {target}"
        else:
            final.append(f"count(*) FILTER (WHERE q{k})::int AS c{k}")
            reached = f"q{k}"
        final.append(f"min((rn << {_ID_BITS}) + id) FILTER (WHERE {reached}) & {(1 << _ID_BITS) - 1} AS i{k}")
        final.append(f"min(occurred_at) FILTER (WHERE {reached}) AS a{k}")
    # ROWS, not the default RANGE frame: the order is unique, so no peer rows to look for.
    window = (
        'WINDOW w AS (PARTITION BY member_id COLLATE "C" ORDER BY occurred_at, transaction_id ROWS UNBOUNDED PRECEDING)'
    )
    # Only the records that count toward some mission: the others change no count, and the rank
    # only has to order the remaining ones as the member's time order does.
    anything = " OR ".join(f"q{k}" for k in range(len(counting)))
    ranked = (
        f"SELECT f.*, row_number() OVER w AS rn{''.join(', ' + r for r in running)} "
        f"FROM (SELECT b.*, {', '.join(flags)} FROM ({base}) b) f WHERE {anything} {window}"
    )
    # Grouped in the window's order (no second sort): the outcomes come out in member order.
    grouped = f'SELECT member_id COLLATE "C" AS member_id, {", ".join(final)} FROM ({ranked}) h GROUP BY 1'
    return grouped, params


def _videos_insert(run, *, campaign: Campaign, rules: Sequence[Rule], members: MemberFilter) -> None:
    """Video missions: the member's views in time order; the target-th view clears, each early view is a unit."""
    video_rules = [r for r in rules if r.kind == MissionKind.VIDEO]
    if not video_rules:
        return
    member_sql, member_params = members.sql("vv.member_id")
    ranked = (
        f'SELECT vv.id, vv.member_id, vv.watched_at, v."order" AS video_order, row_number() OVER ('
        f'PARTITION BY vv.member_id ORDER BY vv.watched_at, v."order", vv.id) AS n '
        f"FROM {VideoView._meta.db_table} vv LEFT JOIN {Video._meta.db_table} v ON v.id = vv.video_id "
        f"WHERE vv.campaign_id = %s AND {member_sql}"
    )
    for rule in video_rules:
        target = int(rule.target)
        run(
            f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, vv_pk) "
            f"SELECT member_id, %s, least(count(*), {target}), {target}, member_id IN (SELECT member_id FROM _entered),"
            f" max(watched_at) FILTER (WHERE n = {target}), "
            f"max(id) FILTER (WHERE n = {target}) FROM ({ranked}) x GROUP BY member_id",
            [rule.mission_id, campaign.pk, *member_params],
        )
        if rule.unit_points:
            # A unit is the video's order (or the view's rank without one); a later view of the same
            # unit replaces an earlier one, as the Python path's dictionary does.
            run(
                f"INSERT INTO _unit (member_id, mission_id, unit, at) "
                f"SELECT DISTINCT ON (member_id, unit) member_id, %s, unit, watched_at FROM ("
                f"SELECT member_id, watched_at, n, coalesce(nullif(video_order, 0), n) AS unit "
                f"FROM ({ranked}) x WHERE n <= {target}) y ORDER BY member_id, unit, n DESC",
                [rule.mission_id, campaign.pk, *member_params],
            )


def _completions_insert(run, *, rules: Sequence[Rule]) -> None:
    """Completion missions from the outcomes already in ``_out``, in dependency order."""
    by_code = {r.code: r for r in rules}
    for rule in _completions_ordered(rules):
        required = [by_code[c].mission_id for c in rule.requires if c in by_code]
        if not required:
            continue
        values = ", ".join(f"({mission_id}, {position})" for position, mission_id in enumerate(required))
        everything = len(required)

        def last(column: str) -> str:  # of the required mission cleared last (the first listed on a tie)
            return f"(array_agg(o.{column} ORDER BY o.cleared_at DESC, q.position))[1]"

        run(
            f"INSERT INTO _out (member_id, mission_id, progress, target, entered, cleared_at, tx_pk, vv_pk) "
            f"SELECT o.member_id, %s, least(count(*), {int(rule.target)}), {int(rule.target)}, bool_or(o.entered), "
            f"CASE WHEN count(*) = {everything} THEN max(o.cleared_at) END, "
            f"CASE WHEN count(*) = {everything} THEN {last('tx_pk')} END, "
            f"CASE WHEN count(*) = {everything} THEN {last('vv_pk')} END "
            f"FROM _out o JOIN (VALUES {values}) AS q(mission_id, position) USING (mission_id) "
            f"WHERE o.cleared_at IS NOT NULL GROUP BY o.member_id",
            [rule.mission_id],
        )
