"""What the benches share: a fresh database with the campaign loaded, and Celery workers.

The scoring runs on Celery workers as in production; a bench starts them (``--pool solo``: one
process each, so N workers use N cores), waits until each answers a ping, and stops them at the end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def database_fresh(*, host: str, name: str, env: dict[str, str]) -> None:
    """Drop and create the bench's own database, migrate it and load the campaign (``env`` names it)."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@{host}:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    for command in (["migrate", "--noinput", "-v", "0"], ["load_campaign"]):
        subprocess.run([PYTHON, "manage.py", *command], env=env, cwd=ROOT, check=True, capture_output=True)


def workers_start(env: dict[str, str], count: int) -> list[subprocess.Popen]:
    """Purge the broker's queue, start ``count`` solo Celery workers, return once each answers a ping."""
    celery = [PYTHON, "-m", "celery", "-A", "campaign"]
    subprocess.run([*celery, "purge", "-f"], env=env, cwd=ROOT, check=True, capture_output=True)
    workers = [
        subprocess.Popen(
            [*celery, "worker", "--pool", "solo", "-n", f"bench{n}@%h", "--loglevel", "WARNING", "--without-mingle"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        for n in range(1, count + 1)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ping = subprocess.run(
            [*celery, "inspect", "ping", "-t", "2"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if sum(f"bench{n}@" in ping.stdout for n in range(1, count + 1)) == count:
            return workers
        time.sleep(1)
    workers_stop(workers)
    raise SystemExit("the Celery workers did not answer within 60 s")


def worker_peak(worker: subprocess.Popen) -> float:
    """A worker's peak resident memory so far, in MB (Linux's VmHWM)."""
    for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:  # busy with a task it would finish first (a loaded machine)
            worker.kill()
            worker.wait()
