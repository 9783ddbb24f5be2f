"""The whole portal at national scale on PostgreSQL (issue 16 §1): 1,000,000 members, 30,000,000 transactions.

    .venv/bin/python bench/scale.py [--members 1000000] [--transactions 30000000] [--reuse]
    .venv/bin/python bench/scale.py --members 33000 --transactions 1000000      # 1/30, to try it

1. builds the month set-based in PostgreSQL (bench/scale_build.py: members, 85 % entered, the
   transactions but the daily file's, video views) in its own database (``--db``, default
   ``wesmo_scale_bench``, dropped and created again); ``--reuse`` keeps a database built before and
   only clears what the run adds (the daily file, the pushes, scoring, exports, the draw);
2. scores everything through the portal's scoring: ``rescore --jobs 2`` on two solo Celery workers
   it starts (bench/support.py), ``score_ratio`` = its seconds over a COPY of the same transactions
   (bench/score.py's ``copy_reference``);
3. imports a daily file of ``--rows`` (default transactions/30) with bench/import.py's file and
   pieces, scored by the workers: first on an empty database (``<db>_empty``, the reference),
   then on top of the stored month; ``copy_ratio`` = import seconds over a raw COPY of the file;
4. pushes → stamps: ``--pushes`` first charges of quiet members, 10 per ``POST /api/v1/transactions``,
   and the seconds until the progress API shows each member's stamp;
5. the progress API and the stamp card page for random members, here and on the empty database;
6. every admin list with its filters and searches, the member page, the dashboard cold and warm;
7. the point export of every ledger line (seconds, peak memory, size) and its download again;
8. the lottery: ``lottery commit``, ``lottery draw``, ``verify_draw`` with PORTAL_NOW after the cut-off;
9. a rule change's dry-run preview; the database's size per million transactions.

Requests go through Django's test Client in this process (p50/p95 over ``--samples``); the clock is
PORTAL_NOW=2026-04-05 (after the period, before the data cut-off). The bench sets session settings
only (work_mem, maintenance_work_mem while building) and assumes the server as installed
(shared_buffers 128 MB). It uses Redis ``--broker`` and ``--cache`` (flushed). The system API's
throttle is raised for the bench (PORTAL_SYSTEM_THROTTLE) so that polling measures the scoring.
The last line:

    scale: members=… transactions=… full_s=… score_ratio=… import_rows_s=… copy_ratio=… push_p95_s=…
           api_p95_ms=… page_p95_ms=… admin_max_p95_ms=… dashboard_cold_s=… export_s=… export_peak_mb=… lottery_s=…
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from score import copy_reference
from support import database_fresh, workers_start, workers_stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
bench_import = importlib.import_module("import")  # bench/import.py: the daily file and its measured steps
NOW = "2026-04-05T12:00:00+09:00"
AFTER_CUTOFF = "2026-04-11T09:00:00+09:00"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z load {os.getloadavg()[0]:.2f}] {message}", flush=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=30_000_000, help="in all, the daily file's included")
    parser.add_argument("--rows", type=int, help="rows of the daily file (default transactions / 30)")
    parser.add_argument("--pushes", type=int, default=1000, help="transactions pushed for push → stamp")
    parser.add_argument("--samples", type=int, default=30, help="requests per measured page or API")
    parser.add_argument("--reuse", action="store_true", help="keep the month built by a previous run")
    parser.add_argument(
        "--scored", action="store_true", help="with --reuse: keep its scoring too (no full re-score measured)"
    )
    parser.add_argument("--db", default="wesmo_scale_bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--requests-only", action="store_true", help=argparse.SUPPRESS)  # the empty database's
    args = parser.parse_args()
    args.rows = args.rows or args.transactions // 30
    return args


def environment(args: argparse.Namespace, db: str, now: str = NOW) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@{args.host}:5432/{db}",
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "PORTAL_NOW": now,
        "CELERY_BROKER_URL": args.broker,
        "PORTAL_CACHE_URL": args.cache,
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_HTTPS": "0",  # the test Client speaks plain http (with debug off the settings turn HTTPS on)
        "PORTAL_SYSTEM_THROTTLE": "1000000/min",
    }


def _built(args: argparse.Namespace) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"postgresql://postgres@{args.host}:5432/{args.db}") as conn:
            return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM campaign_transaction)").fetchone()[0])
    except psycopg.Error:
        return False


RESET_SQL = [  # what a run adds to the built month, cleared before the next with --reuse
    "DELETE FROM campaign_transaction WHERE transaction_id LIKE 'W%%' OR transaction_id LIKE 'P%%'",
    "TRUNCATE campaign_importrejection, campaign_importbatch, missions_scoringdue CASCADE",
    "TRUNCATE lottery_forfeit, lottery_drawentrant, lottery_draw",  # TRUNCATE passes the row guards
    "TRUNCATE missions_ledgerline, missions_pointexport, missions_stamp, missions_stampcard",
    "VACUUM ANALYZE campaign_transaction",
]
UNEXPORT_SQL = [  # with --scored instead of the last two: the kept ledger is exported again, every line
    "UPDATE missions_ledgerline SET export_id = NULL WHERE export_id IS NOT NULL",
    "DELETE FROM missions_pointexport",
]


def month_ready(args: argparse.Namespace) -> None:
    """Build the month (or, with --reuse, clear what a previous run added to it)."""
    from django.db import connection
    from scale_build import build

    from campaign.models import Campaign

    if args.reuse:  # migrated by this code, as a fresh one would be
        command = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        bench_import.subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        with connection.cursor() as cursor:
            for sql in RESET_SQL[:3] + UNEXPORT_SQL if args.scored else RESET_SQL:
                cursor.execute(sql)
        log("reused the built month")
        return
    stored = args.transactions - args.rows - args.pushes
    seconds = build(connection, campaign_id=Campaign.objects.current().pk, members=args.members, transactions=stored)
    log(f"built {args.members:,} members and {stored:,} transactions in {seconds:.0f} s")


def full_rescore(args: argparse.Namespace) -> dict:
    from django.db import connection

    from campaign.models import Campaign
    from missions.management.commands.rescore import rescore_group

    connection.ensure_connection()
    copy_s = copy_reference(connection)
    log(f"COPY reference: {copy_s:.1f} s")
    started = time.monotonic()
    result = rescore_group(campaign=Campaign.objects.current(), jobs=2)
    full_s = time.monotonic() - started
    log(f"full re-score by 2 workers: {result.members_scored:,} members, {result.awards:,} awards in {full_s:.0f} s")
    return {"full_s": full_s, "copy_s": copy_s, "score_ratio": full_s / copy_s}


def import_measure(args: argparse.Namespace, env: dict, path: Path) -> dict:
    """The daily file: raw COPY and ``import_transactions`` scored by two workers, in the database of ``env``."""
    setup = f"DSN = {env['DATABASE_URL'].replace('postgres://', 'postgresql://')!r}\nPATH = {str(path)!r}\n"
    copy = bench_import.run_measured(setup + bench_import.COPY_CODE, env)
    imported = bench_import.run_measured(setup + bench_import.IMPORT_CODE, env)
    return {
        "rows_s": args.rows / imported["import_seconds"],
        "copy_ratio": imported["import_seconds"] / copy["copy_seconds"],
        "seconds": imported["import_seconds"],
        "phases": imported["phases"],
        "peak_mb": imported["peak_mb"],
    }


def empty_reference(args: argparse.Namespace, path: Path) -> tuple[dict, dict]:
    """The daily file on an empty database, then the member requests there: the reference figures."""
    env = environment(args, f"{args.db}_empty")
    database_fresh(host=args.host, name=f"{args.db}_empty", env=env)
    workers = workers_start(env, count=2)
    try:
        empty = import_measure(args, env, path)
        _members_enter(env)  # the same members as on the full database: entered, with their stamps
    finally:
        workers_stop(workers)
    log(f"empty table: {empty['rows_s']:,.0f} rows/s, copy_ratio {empty['copy_ratio']:.1f} ({empty['phases']})")
    requests = requests_of(args, env)
    return empty, requests


def _members_enter(env: dict) -> None:
    """Enter every member of the database of ``env`` and score them (by the running workers)."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO campaign_entry (campaign_id, member_id, entered_at, source, received_at) "
            "SELECT c.id, m.member_id, c.starts_at, 'app', c.starts_at FROM campaign_member m, campaign_campaign c "
            "ON CONFLICT DO NOTHING"
        )
    command = [sys.executable, "manage.py", "rescore", "--jobs", "2"]
    bench_import.subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)


def requests_of(args: argparse.Namespace, env: dict) -> dict:
    """The progress API and stamp card figures of the database of ``env``, measured in a fresh process."""
    command = [sys.executable, __file__, "--requests-only", "--samples", str(args.samples * 4)]
    proc = bench_import.subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit("the member requests failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


EXPORT_CODE = """
import django
django.setup()
from missions.exporting import points_export_create
from campaign.models import Campaign
t = time.perf_counter()
export = points_export_create(campaign=Campaign.objects.current(), user=None, encoding="utf-8")
out = {"lines": export.line_count, "export_id": export.pk, "export_s": time.perf_counter() - t}
"""
DOWNLOAD_CODE = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="scale-admin"))
t = time.perf_counter()
response = client.get(f"/admin/missions/pointexport/{EXPORT_ID}/download/")
size = sum(len(chunk) for chunk in response.streaming_content)
out = {"bytes": size, "status": response.status_code, "download_s": time.perf_counter() - t}
"""
LOTTERY_CODE = """
import io, django
django.setup()
from django.core.management import call_command
out = {}
for step in ("commit", "draw", "verify"):
    buffer = io.StringIO()
    t = time.perf_counter()
    if step == "commit":
        call_command("lottery", "commit", "--user", "scale-admin", stdout=buffer)
        draw_id = int(buffer.getvalue().split()[-1])
    elif step == "draw":
        call_command("lottery", "draw", str(draw_id), "--user", "scale-admin", stdout=buffer)
    else:
        call_command("verify_draw", str(draw_id), stdout=buffer)
    out[step + "_s"] = time.perf_counter() - t
    out[step] = buffer.getvalue().splitlines()[0]
"""


def export_and_lottery(args: argparse.Namespace) -> dict:
    env = environment(args, args.db)
    export = bench_import.run_measured(EXPORT_CODE, env)
    log(f"point export: {export['lines']:,} lines in {export['export_s']:.1f} s, peak {export['peak_mb']:.0f} MB")
    download = bench_import.run_measured(f"EXPORT_ID = {export['export_id']}\n" + DOWNLOAD_CODE, env)
    size_mb = download["bytes"] / 1e6
    log(f"download: {size_mb:.0f} MB in {download['download_s']:.1f} s, peak {download['peak_mb']:.0f} MB")
    lottery = bench_import.run_measured(LOTTERY_CODE, environment(args, args.db, AFTER_CUTOFF))
    log(
        f"lottery: commit {lottery['commit_s']:.1f} s ({lottery['commit']}), draw {lottery['draw_s']:.1f} s, "
        f"verify_draw {lottery['verify_s']:.1f} s ({lottery['verify'][:40]})"
    )
    return {"export": export, "download": download, "lottery": lottery}


def requests_only(args: argparse.Namespace) -> None:
    """(In a fresh process) the member requests of the database DATABASE_URL names, as one JSON line."""
    import django

    django.setup()
    from scale_requests import member_requests

    print(json.dumps(member_requests(samples=args.samples)))


def _table(rows: dict[str, tuple[float, float]]) -> None:
    for name, (p50, p95) in rows.items():
        print(f"  {name:<32} p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms", flush=True)


def measure_requests(args: argparse.Namespace, quiet: list[str]) -> dict:
    """Push → stamp, the member requests, the admin lists and the rule preview, on the full database."""
    from scale_requests import admin_requests, percentiles, push_to_stamp, rule_preview

    pushes = push_to_stamp(members=quiet, rounds=args.pushes // 10, per_push=10)
    push_p50, push_p95 = percentiles(pushes)
    log(f"push → stamp: {len(pushes)} transactions, p50 {push_p50:.2f} s, p95 {push_p95:.2f} s")
    members = requests_of(args, environment(args, args.db))
    log("member requests, full database:")
    _table(members)
    admin = admin_requests(samples=args.samples)
    log("admin pages:")
    _table(admin)
    preview_s, preview = rule_preview()
    log(f"rule change preview: {preview_s:.1f} s ({preview})")
    return {"push": (push_p50, push_p95), "members": members, "admin": admin, "preview_s": preview_s}


def disk_size() -> tuple[float, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database()), (SELECT count(*) FROM campaign_transaction)")
        size, transactions = cursor.fetchone()
    return size / 1e9, transactions


def report(args, score, empty, full, empty_members, measured, later, size_gb, transactions) -> None:
    """The summary against the targets, then the machine-readable last line."""
    members = measured["members"]
    admin = {
        name: p95
        for name, (_p50, p95) in measured["admin"].items()
        if name not in ("dashboard (cold)", "dashboard figures (worker)")
    }
    worst = max(admin, key=admin.get)
    export, download, lottery = later["export"], later["download"], later["lottery"]
    lottery_s = lottery["commit_s"] + lottery["draw_s"] + lottery["verify_s"]
    api_p95, page_p95 = members["progress API"][1], members["stamp card page"][1]
    print(f"database: {size_gb:.1f} GB, {size_gb / transactions * 1e6:.2f} GB per million transactions")
    print(
        f"targets: admin and member page p95 <= 1 s (worst {worst} {admin[worst]:.2f} s); "
        f"import rows/s within 1.5x of the empty table ({empty['rows_s'] / full['rows_s']:.2f}x); "
        f"API/page p95 within 20 % of the empty database ({api_p95 / empty_members['progress API'][1]:.2f}x, "
        f"{page_p95 / empty_members['stamp card page'][1]:.2f}x); push p95 <= 5 s ({measured['push'][1]:.2f} s); "
        f"export peak <= 300 MB ({export['peak_mb']:.0f} MB, download {download['peak_mb']:.0f} MB)"
    )
    log(f"end: uptime load {os.getloadavg()}")
    print(
        f"scale: members={args.members} transactions={transactions} full_s={score['full_s']:.1f} "
        f"score_ratio={score['score_ratio']:.2f} import_rows_s={full['rows_s']:.0f} "
        f"copy_ratio={full['copy_ratio']:.2f} "
        f"push_p95_s={measured['push'][1]:.2f} api_p95_ms={api_p95 * 1000:.1f} page_p95_ms={page_p95 * 1000:.1f} "
        f"admin_max_p95_ms={admin[worst] * 1000:.0f} dashboard_cold_s={measured['admin']['dashboard (cold)'][0]:.2f} "
        f"export_s={export['export_s']:.1f} export_peak_mb={export['peak_mb']:.0f} lottery_s={lottery_s:.1f}"
    )


def main() -> int:
    args = _arguments()
    if args.requests_only:
        requests_only(args)
        return 0
    log(f"start: uptime load {os.getloadavg()}")
    env = environment(args, args.db)
    os.environ.update(env)
    if not (args.reuse and _built(args)):
        args.reuse = args.scored = False
        database_fresh(host=args.host, name=args.db, env=env)
    import django

    django.setup()
    bench_import.subprocess.run([sys.executable, "-c", f"import redis; redis.Redis.from_url({args.cache!r}).flushdb()"])
    month_ready(args)
    path = Path(f"/tmp/wesmo-bench-import-{args.rows}.csv")  # noqa: S108 (a benchmark's scratch file)
    if not path.exists():
        bench_import.csv_write(path, args.rows)
    score = {"full_s": float("nan"), "copy_s": float("nan"), "score_ratio": float("nan")}
    if not args.scored:
        workers = workers_start(env, count=2)
        try:
            score = full_rescore(args)
        finally:
            workers_stop(workers)
    empty, empty_members = empty_reference(args, path)
    log("member requests, empty database:")
    _table(empty_members)
    workers = workers_start(env, count=2)
    try:
        full = import_measure(args, env, path)
        log(f"full table: {full['rows_s']:,.0f} rows/s, copy_ratio {full['copy_ratio']:.1f} ({full['phases']})")
        from scale_build import QUIET

        quiet = [f"M{i:07d}" for i in range(args.members - QUIET, args.members)]
        measured = measure_requests(args, quiet)
    finally:
        workers_stop(workers)
    later = export_and_lottery(args)
    size_gb, transactions = disk_size()
    report(args, score, empty, full, empty_members, measured, later, size_gb, transactions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
