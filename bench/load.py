"""Load benchmark of the progress API and the stamp card page against the floor (a script, not a timed test).

    .venv/bin/python bench/load.py [--members 100000] [--seconds 10] [--rounds 3] [--clients 16]

1. creates a dedicated PostgreSQL database (``wesmo_bench_load``), migrates it and loads the campaign;
2. loads ``--members`` entered members with stamps, ledger lines, stamp cards and transactions with
   set-based SQL (generate_series), and sign-in sessions for a sample of them;
3. serves the portal with gunicorn on 127.0.0.1 (2 gthread workers × 4 threads by default: one
   process per core, threads for the waits on PostgreSQL and Redis; 4 × 2 used more CPU per
   request) and drives it with wrk (``bench/load.lua``), ``--clients`` keep-alive connections:
   - the **floor**: ``GET /bench/floor/<id>``, a minimal Django view that reads one member row by
     primary key and answers JSON, through the same settings and middleware (bench/load_urls.py,
     mounted only by bench/load_settings.py, which the server of this bench runs with);
   - the progress API ``GET /api/v1/members/<id>/progress`` (system token, random members);
   - the stamp card page ``GET /stamps/`` (random member sessions, signed in with WESTER ID as
     members are: ``campaign.wester_id.WesterIdBackend``). Right before a page phase,
     unless they were within the last ``60 − seconds − 5`` s, every sample member's card is
     rendered afresh (the cache flushed, each card opened once), so the phase measures cards the
     site keeps, not their first rendering nor all of them expiring together.
   First 2 s of each as a warm-up, then ``--rounds`` rounds of floor, API, page, ``--seconds``
   each. Every answer must be a 200 with the expected body.

Absolute requests/s swing two-fold from one machine (or one moment of a shared one) to another, so
the figures that count are the ratios to the floor measured in the same round: ``api_ratio`` =
progress API requests/s ÷ that round's floor requests/s, and ``page_ratio`` likewise. One phase run
once in turn followed the neighbours' load (0.26 to 1.07 on a shared 2-core machine); the bench
reports the **median** of the rounds' ratios, with their min and max, and the worst round's p99.
Targets: ``api_ratio`` ≥ 0.5, ``page_ratio`` ≥ 0.35, p99 ≤ 100 ms at 16 clients, no errors.

The load generator is `wrk` (a C client that leaves the cores to the server; a Python client
measured itself more than the server). The bench installs nothing: without wrk it says how to get
it and stops. The last line is
``load: floor_rps=… api_rps=… page_rps=… api_ratio=… page_ratio=… api_p99_ms=… page_p99_ms=… errors=N``
followed by ``rounds=… api_ratio_min=… api_ratio_max=… page_ratio_min=… page_ratio_max=…`` (requests/s
are the rounds' medians).
Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
NOW = "2026-03-20T12:00:00+09:00"
CARD_KEPT_SECONDS = 60  # campaign.stamp_card.STAMP_CARD_CACHE_SECONDS


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)  # UTC, as the other benches


# ---------------------------------------------------------------------------- database


def database_create(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


LOAD_SQL = [
    # Members M0000001 … and their entries.
    """INSERT INTO campaign_member (member_id, created_at)
       SELECT 'M' || lpad(g::text, 7, '0'), now() FROM generate_series(1, %(n)s) g""",
    """INSERT INTO campaign_entry (campaign_id, member_id, entered_at, source, received_at)
       SELECT %(c)s, 'M' || lpad(g::text, 7, '0'), t, 'app', t
       FROM generate_series(1, %(n)s) g,
            LATERAL (SELECT timestamptz '2026-03-02 09:00+09' + (g %% 15) * interval '1 day' AS t) x""",
    # One stamp per member and mission, progress spread over 0 … target (cleared at target).
    """INSERT INTO missions_stamp
         (campaign_id, member_id, mission_id, progress, target, cleared, cleared_at, updated_at)
       SELECT %(c)s, 'M' || lpad(g::text, 7, '0'), m.id, p.progress, m.target_count,
              p.progress >= m.target_count,
              CASE WHEN p.progress >= m.target_count
                   THEN timestamptz '2026-03-03 08:00+09' + ((g + m.id) %% 17) * interval '1 day' END,
              now()
       FROM generate_series(1, %(n)s) g CROSS JOIN missions_mission m,
            LATERAL (SELECT LEAST(m.target_count, (g + m.id * 7) %% (m.target_count + 2)) AS progress) p
       WHERE m.campaign_id = %(c)s AND m.is_active""",
    # The ledger: one award per cleared stamp (per video for the video mission).
    """INSERT INTO missions_ledgerline
         (campaign_id, member_id, mission_id, reward, unit, generation, kind, points, point_type, reason,
          occurred_at, created_at)
       SELECT s.campaign_id, s.member_id, m.id, m.code, 1, 1, 'award', m.reward_points, m.point_type,
              'bench', s.cleared_at, now()
       FROM missions_stamp s JOIN missions_mission m ON m.id = s.mission_id
       WHERE s.campaign_id = %(c)s AND s.cleared""",
    """INSERT INTO missions_stampcard
         (campaign_id, member_id, entered, stamps_cleared, points_limited, points_basic, lottery_eligible, scored_at)
       SELECT s.campaign_id, s.member_id, true, count(*) FILTER (WHERE s.cleared),
              coalesce(sum(m.reward_points) FILTER (WHERE s.cleared AND m.point_type = 'limited'), 0), 0,
              bool_and(s.cleared) FILTER (WHERE m.counts_for_lottery), now()
       FROM missions_stamp s JOIN missions_mission m ON m.id = s.mission_id
       WHERE s.campaign_id = %(c)s GROUP BY s.campaign_id, s.member_id""",
    # Transactions: a charge and some payments per member, inside the period.
    """INSERT INTO campaign_transaction
         (transaction_id, campaign_id, member_id, type, amount, points_used, merchant_code, occurred_at,
          original_transaction_id, charge_method, source, received_at)
       SELECT 'BT' || g || '-' || k, %(c)s, 'M' || lpad(g::text, 7, '0'),
              CASE WHEN k = 1 THEN 'charge' ELSE 'payment' END,
              CASE WHEN k = 1 THEN 10000 ELSE 300 + ((g * k) %% 50) * 100 END,
              0, CASE WHEN k = 1 THEN '' ELSE 'SHOP-' || (g %% 997) END,
              timestamptz '2026-03-02 07:00+09' + ((g + k * 5) %% 18) * interval '1 day' + k * interval '47 minutes',
              '', CASE WHEN k = 1 THEN 'card' ELSE '' END, 'demo', now()
       FROM generate_series(1, %(n)s) g CROSS JOIN generate_series(1, %(per)s) k""",
]


def data_load(*, members: int, per_member: int, sessions: int) -> tuple[str, list[str]]:
    """Bulk-load the members; returns the system API token and session keys of sample members."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection, transaction

    from campaign.auth import api_client_create
    from campaign.models import Campaign

    campaign = Campaign.objects.current()
    params = {"c": campaign.pk, "n": members, "per": per_member}
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in LOAD_SQL:
            started = time.perf_counter()
            cursor.execute(sql, params)
            log(f"  {cursor.rowcount:>9,} rows  {time.perf_counter() - started:5.1f} s  {sql.split()[2]}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    _user, token = api_client_create(name="bench-load")
    User = get_user_model()
    password = make_password("bench-load-password")
    sample = random.Random(7).sample(range(1, members + 1), min(sessions, members))
    users = User.objects.bulk_create([User(username=f"M{i:07d}", password=password) for i in sample])
    keys = []
    with connection.cursor() as cursor:
        for user in users:
            cursor.execute("UPDATE campaign_member SET user_id = %s WHERE member_id = %s", [user.pk, user.username])
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "campaign.wester_id.WesterIdBackend"  # members sign in with it
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            keys.append(session.session_key)
    return token, keys


# ---------------------------------------------------------------------------- the client


def drive_wrk(port: int, mode: str, args: list[str], *, seconds: float, clients: int) -> dict:
    """Drive with wrk and bench/load.lua (``mode`` floor, api or page); the script prints a JSON summary."""
    command = [
        "wrk",
        f"-t{min(2, clients)}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "load.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        *args,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    errors = []
    if summary["bad"]:
        errors.append(f"{mode}: {summary['bad']} answers not 200 + expected body (first {summary['first_bad']})")
    for kind in ("connect", "read", "write", "timeout"):
        if summary[kind]:
            errors.append(f"{mode}: {summary[kind]} socket {kind} errors")
    return {
        "rps": summary["requests"] / (summary["duration_us"] / 1e6),
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "requests": summary["requests"],
        "errors": errors,
        "error_count": summary["bad"] + sum(summary[k] for k in ("connect", "read", "write", "timeout")),
    }


# ---------------------------------------------------------------------------- main


def summary(result: dict) -> str:
    n = max(1, result["requests"])
    return (
        f"  {result['requests']:,} requests, {result['rps']:.0f}/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
        f"server CPU per request: Python {result['python_ms'] / n:.2f} ms, "
        f"PostgreSQL {result['postgres_ms'] / n:.2f} ms"
    )


def cache_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn stopped while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--transactions-per-member", type=int, default=6)
    parser.add_argument("--sessions", type=int, default=500, help="members with a sign-in session")
    parser.add_argument("--seconds", type=float, default=10, help="each phase of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8105)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--database", default="wesmo_bench_load")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--cache-url", default="redis://127.0.0.1:6379/5", help="a Redis database of its own: it is flushed first"
    )
    return parser.parse_args()


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """The server's environment; this process reads the same database and clock."""
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_SERVER}/{args.database}",
        "DATABASE_CONN_MAX_AGE": "600",
        "PORTAL_NOW": NOW,
        "DJANGO_DEBUG": "0",
        "PORTAL_HTTPS": "0",  # plain http on loopback (with debug off the settings turn HTTPS on)
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_LOG_LEVEL": "WARNING",
        # The portal's settings with the floor's URL added (bench/load_settings.py).
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        # One cache shared by the web processes, as in production (README: PORTAL_CACHE_URL).
        "PORTAL_CACHE_URL": args.cache_url,
        # The bench's one API client would hit the per-client throttle (6,000/min by default):
        # this measures capacity, not the throttle.
        "PORTAL_SYSTEM_THROTTLE": "10000000/min",
    }
    env.pop("CELERY_BROKER_URL", None)  # scoring is not part of this benchmark
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "PORTAL_NOW", "DJANGO_SETTINGS_MODULE", "PORTAL_LOG_LEVEL")})
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    return env


def _gunicorn_start(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "campaign.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            args.worker_class,
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def _cards_open(port: int, session_keys: list[str], clients: int) -> None:
    """Open each sample member's card once, as members do before they press 更新 (refresh), ``clients`` at a time."""

    def open_card(key: str) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/stamps/", headers={"Cookie": f"sessionid={key}"})
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 (loopback)
            answer.read()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(open_card, session_keys))


def _cpu_ms(pids: set[int]) -> float:
    """CPU time (user + system) the processes have used so far, in ms (Linux's /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def _server_pids(gunicorn: subprocess.Popen, database: str) -> tuple[set[int], set[int]]:
    """The gunicorn workers and the PostgreSQL backends serving the bench's database."""
    import psycopg

    workers = Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children").read_text().split()
    with psycopg.connect(f"{PG_SERVER}/{database}", autocommit=True) as conn:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {int(w) for w in workers}, {b[0] for b in backends}


def _measure(
    args: argparse.Namespace, gunicorn: subprocess.Popen, token: str, session_keys: list[str]
) -> list[dict[str, dict]]:
    """A warm-up of each endpoint, then ``args.rounds`` rounds of the floor, the progress API and the page.

    Each phase also reports the server's CPU per request, Python (gunicorn's workers) and
    PostgreSQL (the backends of the bench's database): on a shared machine, where requests/s
    follow the neighbours' load, the CPU a request costs is what the server's own work is.
    """
    members = str(args.members)
    rendered = -1e9  # when every sample card was last rendered

    def run(mode: str, extra: list[str], seconds: float) -> dict:
        nonlocal rendered
        if mode == "page" and time.monotonic() - rendered > CARD_KEPT_SECONDS - seconds - 5:
            # Every card rendered now, kept past the phase's end: the page phase measures kept
            # cards, not a re-render of all of them at once when they expire together.
            cache_flush(args.cache_url)
            _cards_open(args.port, session_keys, args.clients)
            rendered = time.monotonic()
        workers, backends = _server_pids(gunicorn, args.database)
        python, postgres = _cpu_ms(workers), _cpu_ms(backends)
        result = drive_wrk(args.port, mode, extra, seconds=seconds, clients=args.clients)
        new = _server_pids(gunicorn, args.database)[1] - backends  # counted whole: opened in the phase
        result["python_ms"] = _cpu_ms(workers) - python
        result["postgres_ms"] = _cpu_ms(backends) - postgres + _cpu_ms(new)
        return result

    with tempfile.NamedTemporaryFile("w", suffix=".sessions") as keys_file:
        keys_file.write("\n".join(session_keys) + "\n")
        keys_file.flush()
        phases = {"floor": [members], "api": [token, members], "page": [keys_file.name]}
        # Warm up every worker and thread (imports, connections, prepared statements, the kept campaign).
        for mode, extra in phases.items():
            run(mode, extra, 2)
        rounds = []
        for number in range(1, args.rounds + 1):
            log(f"round {number}/{args.rounds}: {args.clients} clients, {args.seconds:g} s each")
            results = {mode: run(mode, extra, args.seconds) for mode, extra in phases.items()}
            for mode, result in results.items():
                log(f"  {mode:5} {summary(result)}")
            rounds.append(results)
    return rounds


def _report(rounds: list[dict[str, dict]]) -> int:
    """Each round's ratios to its own floor; the medians (and the range) are the figures."""
    phases = [r for results in rounds for r in results.values()]
    error_count = sum(r["error_count"] for r in phases)
    for error in [e for r in phases for e in r["errors"]][:10]:
        log(f"error: {error}")

    rps = {mode: statistics.median([results[mode]["rps"] for results in rounds]) for mode in ("floor", "api", "page")}
    ratios = {mode: [results[mode]["rps"] / results["floor"]["rps"] for results in rounds] for mode in ("api", "page")}
    for mode, values in ratios.items():
        log(f"{mode}_ratio by round: " + ", ".join(f"{v:.2f}" for v in values))
    cpu = {
        mode: sum(results[mode]["python_ms"] + results[mode]["postgres_ms"] for results in rounds)
        / max(1, sum(results[mode]["requests"] for results in rounds))
        for mode in ("floor", "api", "page")
    }
    log(
        f"server CPU per request: floor {cpu['floor']:.2f} ms, API {cpu['api']:.2f} ms, page {cpu['page']:.2f} ms "
        f"(as ratios: API {cpu['floor'] / cpu['api']:.2f}, page {cpu['floor'] / cpu['page']:.2f})"
    )
    api_ratio, page_ratio = statistics.median(ratios["api"]), statistics.median(ratios["page"])
    # The worst round's p99: the target holds in every round or not at all.
    p99 = {mode: max(results[mode]["p99_ms"] for results in rounds) for mode in ("api", "page")}
    met = api_ratio >= 0.5 and page_ratio >= 0.35 and max(p99.values()) <= 100 and not error_count
    log(
        "targets (median api_ratio ≥ 0.5, page_ratio ≥ 0.35, p99 ≤ 100 ms, no errors): "
        + ("met" if met else "NOT met")
        + f"; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"load: floor_rps={rps['floor']:.0f} api_rps={rps['api']:.0f} page_rps={rps['page']:.0f} "
        f"api_ratio={api_ratio:.2f} page_ratio={page_ratio:.2f} "
        f"api_p99_ms={p99['api']:.1f} page_p99_ms={p99['page']:.1f} errors={error_count} "
        f"rounds={len(rounds)} api_ratio_min={min(ratios['api']):.2f} api_ratio_max={max(ratios['api']):.2f} "
        f"page_ratio_min={min(ratios['page']):.2f} page_ratio_max={max(ratios['page']):.2f}"
    )
    return 1 if error_count else 0


def main() -> int:
    args = _arguments()
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: the bench drives the server with it (a C client that leaves the cores to "
            "the server). Install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk) and run again."
        )
    env = _environment(args)
    if not port_free(args.port):
        raise SystemExit(f"127.0.0.1:{args.port} is in use: stop what listens there or pass --port")
    log(f"database {args.database}: create, migrate, load the campaign")
    database_create(args.database)
    gunicorn = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "load_campaign")
        log(f"loading {args.members:,} members with stamps ({args.transactions_per_member} transactions each)")
        token, session_keys = data_load(
            members=args.members, per_member=args.transactions_per_member, sessions=args.sessions
        )
        log(f"gunicorn on 127.0.0.1:{args.port} ({args.workers} {args.worker_class} workers × {args.threads} threads)")
        gunicorn = _gunicorn_start(args, env)
        wait_until_up(args.port, gunicorn)
        rounds = _measure(args, gunicorn, token, session_keys)
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        if not args.keep:
            database_drop(args.database)
    return _report(rounds)


if __name__ == "__main__":
    sys.exit(main())
