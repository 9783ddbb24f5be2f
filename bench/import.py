"""Benchmark of the transaction import on PostgreSQL (issue 4).

    .venv/bin/python bench/import.py --rows 1000000

Writes a realistic N-row CSV under /tmp, then measures in one run, each in its own
process so that the peak memory figures are separate:

(a) a raw COPY of the same file into an unindexed table: the physical reference; then the same rows
    by one ``INSERT … SELECT`` into a table with campaign_transaction's indexes (the floor of the
    merge: what the indexes cost, with no check, no Python and no scoring);
(b) ``manage.py import_transactions`` end to end (checks, COPY staging, merge, scoring), with the
    phases the command reports at verbosity 2 (stage: reading and checking each row, overlapped
    with the server's COPY of the valid ones into the staging table; merge: the set-based insert;
    score: the Celery group scoring the touched members, waited for);
(c) django-import-export's plain ModelResource importing a 20,000-row sample of the rows.

Scoring is done by Celery workers, as in production: before (b) the bench purges the queue of the
broker (``--broker``, default $CELERY_BROKER_URL or redis://127.0.0.1:6379/0) and starts two
workers on this machine (``celery -A campaign worker --pool solo``, one process each, named
bench1@ and bench2@), waits until both answer a ping, and stops them after (b); the command
waits for its scoring group, so (b)'s time includes the scoring. The workers' peak memory is read
from /proc (VmHWM) before they stop.

It prints rows/s for each, the ratios and the peak memory; its last line is
``import: rows=N copy_rows_s=… import_rows_s=… copy_ratio=… insert_ratio=… die_rows_s=… speedup_vs_die=… peak_mb=…``
(copy_ratio = import time / COPY time; insert_ratio = the merge floor's INSERT time / COPY time;
cpu_bound_ratio = the CPU time the whole machine used during (b), divided by its cores and by the
COPY time: the copy_ratio of a perfect schedule of the same work, below which no overlap can go;
peak_mb = the larger of the command's and a worker's peak).
The database (``--db``, default ``wesmo_bench_import``) is dropped and created again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from support import database_fresh, worker_peak, workers_start, workers_stop

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
JST = timezone(timedelta(hours=9))
PORTAL_NOW = "2026-04-05T12:00:00+09:00"
COLUMNS = [
    "transaction_id",
    "member_id",
    "type",
    "amount",
    "points_used",
    "merchant_code",
    "occurred_at",
    "original_transaction_id",
    "charge_method",
]


def csv_write(path: Path, rows: int, seed: int = 2026) -> None:
    """N rows as the Wesmo! system would send them: charges, payments (some with points), cancels."""
    rng = random.Random(seed)
    members = max(rows // 10, 1)
    start = datetime(2026, 3, 2, tzinfo=JST)
    span = int((datetime(2026, 4, 1, tzinfo=JST) - start).total_seconds())
    bonus = [f"KOBE-{i:02d}" for i in range(1, 14)] + [f"OKAYAMA-{i:02d}" for i in range(1, 13)]
    methods = ["card", "jwest_card", "seven_atm", "bank"]
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        recent: list[tuple[str, str, int, str]] = []
        for i in range(1, rows + 1):
            member = f"M{rng.randrange(members):07d}"
            when = (start + timedelta(seconds=rng.randrange(span))).isoformat()
            roll = rng.random()
            tid = f"W{i:010d}"
            if roll < 0.12:
                amount = rng.choice([1000, 3000, 5000, 10000, 20000, 50000, 100000])
                writer.writerow([tid, member, "charge", amount, "", "", when, "", rng.choice(methods)])
            elif roll < 0.985 or not recent:
                amount = rng.choice([120, 300, 480, 650, 980, 1200, 1500, 3200, 5400, 8000])
                points = rng.choice([0] * 8 + [100, amount])
                merchant = rng.choice(bonus) if rng.random() < 0.01 else f"M{rng.randrange(1_600_000):07d}"
                amount_text = f"{amount:,}" if rng.random() < 0.05 else str(amount)
                writer.writerow([tid, member, "payment", amount_text, points, merchant, when, "", ""])
                if len(recent) < 1000:
                    recent.append((tid, member, amount, when))
            else:
                original, owner, amount, _when = recent.pop(rng.randrange(len(recent)))
                writer.writerow([tid, owner, "cancel", amount, "", "", when, original, ""])


def run_measured(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a new Python process; it prints a JSON dict; add its wall time and peak RSS."""
    wrapper = (
        "import json, resource, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "out['seconds'] = time.perf_counter() - t0\n"
        # The larger of the process and its largest child (the import scores in forked workers).
        "out['peak_mb'] = max(resource.getrusage(r).ru_maxrss for r in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024\n"
        "print('BENCH ' + json.dumps(out))\n"
    )
    proc = subprocess.run([PYTHON, "-c", wrapper], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f"benchmark step failed (exit {proc.returncode})")
    line = next(line for line in proc.stdout.splitlines()[::-1] if line.startswith("BENCH "))
    result = json.loads(line[6:])
    result["stdout"] = proc.stdout
    return result


COPY_CODE = """
import psycopg
out = {}
with psycopg.connect(DSN, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
    conn.execute(
        "CREATE UNLOGGED TABLE bench_raw_copy (transaction_id text, member_id text, type text, amount text, "
        "points_used text, merchant_code text, occurred_at timestamptz, original_transaction_id text, "
        "charge_method text)"
    )
    t0 = time.perf_counter()
    with conn.cursor() as cur, cur.copy("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
        with open(PATH, "rb") as stream:
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
    out["copy_seconds"] = time.perf_counter() - t0
    out["rows"] = conn.execute("SELECT count(*) FROM bench_raw_copy").fetchone()[0]
    # The floor of the merge: the same rows, typed, into a table with campaign_transaction's indexes.
    conn.execute("DROP TABLE IF EXISTS bench_indexed")
    conn.execute("CREATE TABLE bench_indexed (LIKE campaign_transaction INCLUDING ALL)")
    conn.execute("CHECKPOINT")
    t0 = time.perf_counter()
    conn.execute(
        "INSERT INTO bench_indexed (transaction_id, campaign_id, member_id, type, amount, points_used, merchant_code, "
        "occurred_at, original_transaction_id, charge_method, source, import_batch_id, received_at) "
        "SELECT transaction_id, 1, member_id, type, replace(amount, ',', '')::bigint, "
        "coalesce(nullif(points_used, ''), '0')::bigint, coalesce(merchant_code, ''), occurred_at, "
        "coalesce(original_transaction_id, ''), "
        "coalesce(charge_method, ''), 'file', 1, now() FROM bench_raw_copy"
    )
    out["insert_seconds"] = time.perf_counter() - t0
    conn.execute("DROP TABLE bench_indexed")
    conn.execute("DROP TABLE bench_raw_copy")
"""

IMPORT_CODE = """
import io, os, django
django.setup()
from django.core.management import call_command

def cpu_busy():  # seconds of CPU used on the whole machine so far (every process: the command, workers, server)
    user, nice, system, _idle, _iowait, irq, softirq = map(int, open("/proc/stat").readline().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")

buffer, errors = io.StringIO(), io.StringIO()
busy0 = cpu_busy()
t0 = time.perf_counter()
call_command("import_transactions", PATH, stdout=buffer, stderr=errors, verbosity=2)
phases = [line for line in errors.getvalue().splitlines() if line.startswith("phases: ")]
scored = [float(p.split("=")[1].rstrip("s")) for p in (phases or [""])[-1].split() if p.startswith("score=")]
out = {
    "import_seconds": time.perf_counter() - t0,
    "cpu_seconds": cpu_busy() - busy0,
    "scoring_seconds": scored[0] if scored else 0.0,
    "summary": buffer.getvalue().strip().splitlines()[-1],
    "phases": phases[-1][len("phases: "):] if phases else "",
}
"""

DIE_CODE = """
import django
django.setup()
import tablib
from import_export import resources
from campaign.models import Campaign, Member, Transaction

class TransactionResource(resources.ModelResource):
    class Meta:
        model = Transaction
        import_id_fields = ("transaction_id",)
        fields = ("transaction_id", "campaign", "member", "type", "amount", "points_used", "merchant_code",
                  "occurred_at", "original_transaction_id", "charge_method", "source", "received_at")

campaign = Campaign.objects.current()
dataset = tablib.Dataset()
with open(PATH, encoding="utf-8") as stream:
    dataset.load(stream.read(), format="csv")
dataset.append_col(["api"] * len(dataset), header="source")
dataset.append_col([campaign.pk] * len(dataset), header="campaign")
dataset.append_col(["2026-04-05 12:00:00"] * len(dataset), header="received_at")
members = dataset["member_id"]
dataset.append_col(members, header="member")
Member.objects.bulk_create([Member(member_id=m) for m in set(members)], ignore_conflicts=True)
t0 = time.perf_counter()
result = TransactionResource().import_data(dataset, dry_run=False, use_transactions=True, raise_errors=True)
out = {"die_seconds": time.perf_counter() - t0, "rows": len(dataset), "errors": result.has_errors()}
"""


def die_sample_write(path: Path, rows: int) -> Path:
    """The die sample: the first rows of the same file, with their own ids so they are new to the store."""
    sample = Path(f"/tmp/wesmo-bench-import-die-{rows}.csv")  # noqa: S108
    with path.open(encoding="utf-8", newline="") as source, sample.open("w", encoding="utf-8", newline="") as target:
        reader, writer = csv.reader(source), csv.writer(target)
        writer.writerow(next(reader))
        for n, row in enumerate(reader):
            if n >= rows:
                break
            row[0] = "D" + row[0]
            row[3] = row[3].replace(",", "")
            row[7] = "D" + row[7] if row[7] else ""
            row[4] = row[4] or "0"
            # import-export's datetime widget reads Django's input formats: a naive time, in TIME_ZONE (JST).
            row[6] = datetime.fromisoformat(row[6]).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow(row)

    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--die-rows", type=int, default=20_000)
    parser.add_argument("--db", default="wesmo_bench_import")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    dsn = f"postgresql://postgres@{args.host}:5432/{args.db}"
    env = {**os.environ, "DATABASE_URL": dsn, "PORTAL_NOW": PORTAL_NOW, "DJANGO_SETTINGS_MODULE": "campaign.settings"}
    env["CELERY_BROKER_URL"] = args.broker
    env["PORTAL_LOG_LEVEL"] = "WARNING"
    database_fresh(host=args.host, name=args.db, env=env)

    path = Path(f"/tmp/wesmo-bench-import-{args.rows}.csv")  # noqa: S108 (a benchmark's scratch file)
    started = time.perf_counter()
    csv_write(path, args.rows)
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {args.rows:,} rows ({size_mb:.0f} MB) to {path} in {time.perf_counter() - started:.1f} s")

    sample = die_sample_write(path, args.die_rows)

    setup = f"DSN = {dsn!r}\nPATH = {str(path)!r}\n"
    copy = run_measured(setup + COPY_CODE, env)
    copy_rows_s = copy["rows"] / copy["copy_seconds"]
    print(f"(a) raw COPY: {copy['rows']:,} rows in {copy['copy_seconds']:.2f} s = {copy_rows_s:,.0f} rows/s")
    print(
        f"    the same rows by one INSERT … SELECT into a table indexed like campaign_transaction: "
        f"{copy['insert_seconds']:.2f} s ({copy['insert_seconds'] / copy['copy_seconds']:.1f}x COPY: the merge's floor)"
    )

    workers = workers_start(env, count=2)
    try:
        imported = run_measured(setup + IMPORT_CODE, env)
        worker_peak_mb = max(worker_peak(worker) for worker in workers)
    finally:
        workers_stop(workers)
    import_rows_s = args.rows / imported["import_seconds"]
    print(
        f"(b) import_transactions: {imported['summary']} in {imported['import_seconds']:.2f} s = "
        f"{import_rows_s:,.0f} rows/s, peak {imported['peak_mb']:.0f} MB (scoring workers: {worker_peak_mb:.0f} MB)"
    )
    storing = imported["import_seconds"] - imported["scoring_seconds"]
    print(
        f"    of which reading, checking and storing {storing:.2f} s ({args.rows / storing:,.0f} rows/s, "
        f"{storing / copy['copy_seconds']:.1f}x COPY), "
        f"then the scoring by two workers {imported['scoring_seconds']:.2f} s"
    )
    if imported["phases"]:  # the import's own timings (stage, merge, score)
        print(f"    phases reported by the import: {imported['phases']}")
    cores = len(os.sched_getaffinity(0))
    # The CPU the import used on the whole machine, spread perfectly over its cores: no way of
    # scheduling this work (overlapping phases, more workers) could finish sooner than that.
    bound_ratio = imported["cpu_seconds"] / cores / copy["copy_seconds"]
    print(
        f"    CPU used meanwhile by every process: {imported['cpu_seconds']:.1f} s on {cores} cores "
        f"({imported['cpu_seconds'] / imported['import_seconds']:.2f} busy on average); spread perfectly, "
        f"{imported['cpu_seconds'] / cores:.1f} s = {bound_ratio:.1f}x COPY (the lowest copy_ratio of this work here)"
    )

    die = run_measured(f"DSN = {dsn!r}\nPATH = {str(sample)!r}\n" + DIE_CODE, env)
    die_rows_s = die["rows"] / die["die_seconds"]
    print(
        f"(c) django-import-export ModelResource: {die['rows']:,} rows in {die['die_seconds']:.2f} s = "
        f"{die_rows_s:,.0f} rows/s, peak {die['peak_mb']:.0f} MB"
    )

    copy_ratio = imported["import_seconds"] / copy["copy_seconds"]
    insert_ratio = copy["insert_seconds"] / copy["copy_seconds"]
    speedup = import_rows_s / die_rows_s
    print("targets: copy_ratio <= 13, speedup_vs_die >= 50, peak <= 300 MB")
    print(
        f"import: rows={args.rows} copy_rows_s={copy_rows_s:.0f} import_rows_s={import_rows_s:.0f} "
        f"copy_ratio={copy_ratio:.2f} insert_ratio={insert_ratio:.2f} die_rows_s={die_rows_s:.0f} "
        f"speedup_vs_die={speedup:.1f} cpu_bound_ratio={bound_ratio:.2f} "
        f"peak_mb={max(imported['peak_mb'], worker_peak_mb):.0f}"
    )


if __name__ == "__main__":
    main()
