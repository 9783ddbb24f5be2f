"""Where a full re-score spends its time: every statement of a cold re-score in one process, with its CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wesmo_bench_score .venv/bin/python bench/score_profile.py

Run ``bench/score.py`` first (it generates the synthetic month in that database). This script
empties the stamps, ledger lines and cards, re-scores every member in this process and prints,
per kind of statement (its first 60 characters), how many ran, their wall time and the CPU time
of the PostgreSQL backend that ran them (read from /proc, so the figure holds even when other
work shares the machine; parallel query workers are not counted). It changes the scores it
measures, like bench/score.py: use a benchmark database only.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wesmo_bench_score"


def main() -> int:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        print("bench/score_profile.py measures PostgreSQL: set DATABASE_URL=postgres://…", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.db import connection

    from campaign.models import Campaign
    from missions.services import members_score

    campaign = Campaign.objects.current()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE missions_stamp, missions_ledgerline, missions_stampcard")
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def backend_cpu() -> float:
        fields = Path(f"/proc/{backend}/stat").read_text().split(")")[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    spent: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])

    def timed(execute, sql, params, many, context):
        started, cpu = time.perf_counter(), backend_cpu()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = spent[" ".join(sql.split())[:60]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += backend_cpu() - cpu

    started, python, cpu = time.perf_counter(), time.process_time(), backend_cpu()
    with connection.execute_wrapper(timed):
        result = members_score(campaign=campaign)
    print(f"{result}")
    print(f"{'n':>3} {'wall s':>7} {'cpu s':>7}  statement")
    for statement, (count, wall, used) in sorted(spent.items(), key=lambda item: -item[1][1])[:15]:
        print(f"{count:3d} {wall:7.2f} {used:7.2f}  {statement}")
    print(
        f"score_profile: wall_s={time.perf_counter() - started:.2f} python_cpu_s={time.process_time() - python:.2f} "
        f"postgres_cpu_s={backend_cpu() - cpu:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
