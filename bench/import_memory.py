"""Peak memory of importing an XLSX whose rows are all rejected (issue 18 §4).

    .venv/bin/python bench/import_memory.py --rows 500000

Writes an XLSX of N rows, every one of them bad (a negative amount) and each with its own
transaction id (so the workbook's shared strings grow with the file), into a database of its own
(``--db``, default ``wesmo_bench_import_memory``, dropped and created again), then runs
``manage.py import_transactions --no-score`` on it in a process of its own and reads that
process's peak resident memory. The rejected rows stream to the report table in chunks, and the
sheet is read by openpyxl in read-only mode, so the peak stays bounded whatever N (up to the
documented cap on unpacked sheet XML, above which the file is refused). The last line is
``import_memory: rows=N xlsx_mb=… sheet_xml_mb=… rejected=… seconds=… peak_mb=…``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from support import database_fresh

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HEADER = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]


def xlsx_write(path: Path, rows: int) -> None:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append([f"W{n:010d}", f"M{n % 50_000:07d}", "payment", -500 - n % 100, 0, "S1", "2026-03-06 07:30:00"])
    workbook.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--db", default="wesmo_bench_import_memory")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    dsn = f"postgresql://postgres@{args.host}:5432/{args.db}"
    env = {**os.environ, "DATABASE_URL": dsn, "PORTAL_NOW": "2026-03-20T12:00:00+09:00"}
    env.pop("CELERY_BROKER_URL", None)  # --no-score: no task is sent
    env["PORTAL_LOG_LEVEL"] = "WARNING"
    database_fresh(host=args.host, name=args.db, env=env)

    path = Path(f"/tmp/wesmo-bench-import-memory-{args.rows}.xlsx")  # noqa: S108 (a benchmark's scratch file)
    started = time.perf_counter()
    xlsx_write(path, args.rows)
    with zipfile.ZipFile(path) as archive:
        sheet_xml = sum(
            info.file_size
            for info in archive.infolist()
            if info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml"
        )
    xlsx_mb = path.stat().st_size / 1e6
    print(
        f"wrote {args.rows:,} rows ({xlsx_mb:.0f} MB, {sheet_xml / 1e6:.0f} MB of sheet XML) "
        f"in {time.perf_counter() - started:.0f} s"
    )

    started = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "manage.py", "import_transactions", "--no-score", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child: the import
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    rejected = re.search(r"rejected=(\d+)", summary)
    print(f"import_transactions: exit {proc.returncode}, {summary or proc.stderr.strip()[-300:]} in {seconds:.1f} s")
    print(
        f"import_memory: rows={args.rows} xlsx_mb={xlsx_mb:.0f} sheet_xml_mb={sheet_xml / 1e6:.0f} "
        f"rejected={rejected.group(1) if rejected else 0} seconds={seconds:.1f} peak_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
