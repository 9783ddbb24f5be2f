"""Real processes for the fault tests: a Redis of the test's own, Celery workers, manage.py commands,
and the check that ends every fault test: the scoring tables equal a fresh full re-score.

Each test starts its own ``redis-server`` on a free port (never the shared one, which it could not
stop without breaking other tests), so tests in parallel xdist workers share nothing but PostgreSQL,
where each xdist worker has its own test database. The children read that database (committed data:
the tests are transactional) with the campaign's clock fixed as the test's (``PORTAL_NOW``).
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import redis
from django.db import connection, transaction

from campaign.celery import app
from campaign.imports.batches import import_batch_create, import_batch_run
from campaign.models import Campaign, Entry
from missions.models import LedgerLine, ScoringDue, Stamp, StampCard
from missions.services import members_score

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN_NOW = "2026-03-15T12:00:00+09:00"
WORKER_APP = "faults-worker"  # the workers' PostgreSQL application_name (PGAPPNAME), to find their backends
HEADER = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]


def wait_for(condition: Callable[[], object], *, seconds: float, what: str, every: float = 0.1):
    """Poll ``condition`` until it returns something true (returned); fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s: {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throw-away ``redis-server`` (no persistence) that a test may stop and start again on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: self._answers(client), seconds=10, what=f"redis-server on port {self.port}", every=0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


def child_env(*, broker: str | None, **extra: str) -> dict[str, str]:
    """The environment of a child process: this test's database and clock, ``broker`` (None: tasks inline)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    where = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{where}",
        "PORTAL_NOW": CAMPAIGN_NOW,
        "PGAPPNAME": WORKER_APP,
        **extra,
    }
    env.pop("PORTAL_CACHE_URL", None)  # the shared Redis's cache is not the children's business
    env.pop("CELERY_BROKER_URL", None)
    if broker:
        env["CELERY_BROKER_URL"] = broker
    return env


class Worker:
    """A solo Celery worker (``beat``: with the beat scheduler embedded) logging to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, *, beat: bool = False) -> None:
        self.env, self.log, self.beat = env, log, beat
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        command = [sys.executable, "-m", "celery", "-A", "campaign", "worker", "--pool", "solo", "-n", "faults@%h"]
        command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        if self.beat:
            command += ["--beat", "--schedule", str(self.log.with_suffix(".beat"))]
        with self.log.open("ab") as out:  # the new session: stopping it stops an embedded beat too
            self.process = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        # Its logs say little (the "celery" logger is at WARNING): it is up when it answers a ping.
        wait_for(lambda: app.control.ping(timeout=0.3), seconds=60, what=f"the worker to answer ({self.log})")
        return self

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would: no shutdown, nothing acknowledged."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGKILL)  # the tests assert their end state, not a clean shutdown

    def _signal(self, number: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)
        self.process.wait(timeout=30)
        self.process = None


def worker_backends() -> list[tuple[int, str, str]]:
    """The workers' PostgreSQL backends: (pid, state, query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, query FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [WORKER_APP],
        )
        return cursor.fetchall()


def scoring_statement_running() -> int | None:
    """The pid of a worker backend in the middle of a scoring chunk's transaction, if any."""
    for pid, state, query in worker_backends():
        if state in ("active", "idle in transaction") and ("_members" in query or "_out" in query):
            return pid
    return None


def transactions_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def member_rows(members: int, *, prefix: str, per_member: int = 3) -> list[list]:
    """Records spread over ``members`` members whose amounts clear different missions for each."""
    rows = []
    for n in range(members):
        member = f"{prefix}{n:06d}"
        rows.append([f"{member}-C", member, "charge", 10000 * (1 + n % 10), "", "", "2026-03-05T10:00:00+09:00"])
        for k in range(per_member - 1):
            amount = 400 + 37 * ((n + k) % 50)
            rows.append(
                [f"{member}-P{k}", member, "payment", amount, "", "SHOP-1", f"2026-03-{6 + k:02d}T12:00:00+09:00"]
            )
    return rows


def scoring_state(campaign: Campaign) -> dict[str, list[tuple]]:
    """Every stamp, ledger line and stamp card of the campaign, as comparable rows (no ids, no write times)."""
    of = {"campaign": campaign}
    return {
        "stamps": sorted(
            Stamp.objects.filter(**of).values_list(
                "member_id", "mission_id", "progress", "target", "cleared", "cleared_at", "cleared_by_transaction_id"
            )
        ),
        "ledger": sorted(
            LedgerLine.objects.filter(**of).values_list(
                "member_id", "mission_id", "reward", "unit", "generation", "kind", "points", "point_type", "occurred_at"
            )
        ),
        "cards": sorted(
            StampCard.objects.filter(**of).values_list(
                "member_id", "entered", "stamps_cleared", "points_limited", "points_basic", "lottery_eligible"
            )
        ),
    }


def fresh_rescore_state(campaign: Campaign) -> dict[str, list[tuple]]:
    """What a full re-score from nothing writes (in a transaction rolled back: the tables are left as found)."""
    with transaction.atomic():
        for model in (LedgerLine, Stamp, StampCard):
            model.objects.filter(campaign=campaign).delete()
        members_score(campaign=campaign)
        state = scoring_state(campaign)
        transaction.set_rollback(True)
    return state


def assert_scored_exactly(campaign: Campaign, *, members: int) -> dict[str, list[tuple]]:
    """Nothing left due, and every member's stamps, ledger and card equal a fresh full re-score."""
    assert not ScoringDue.objects.exists(), f"{ScoringDue.objects.count()} members still due"
    found, fresh = scoring_state(campaign), fresh_rescore_state(campaign)
    assert len(fresh["cards"]) == members and fresh["ledger"], "the scenario scores nothing: it proves nothing"
    for table in ("stamps", "ledger", "cards"):
        same = found[table] == fresh[table]
        missing, extra = sorted(set(fresh[table]) - set(found[table])), sorted(set(found[table]) - set(fresh[table]))
        doubled = len(found[table]) - len(set(found[table]))
        assert same, f"{table}: {len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}, {doubled} doubled"
    return found


def records_stored(campaign: Campaign, tmp_path: Path, *, members: int, prefix: str) -> list[str]:
    """``members`` members' records imported (scoring left to the test: they are due), half of them entered."""
    path = transactions_csv(tmp_path / f"{prefix}.csv", member_rows(members, prefix=prefix))
    batch = import_batch_run(batch=import_batch_create(campaign=campaign, path=path), path=path, scoring="none")
    assert batch.accepted == 3 * members
    ids = [f"{prefix}{n:06d}" for n in range(members)]
    entered = datetime.fromisoformat("2026-03-02T09:00:00+09:00")
    Entry.objects.bulk_create(
        Entry(campaign=campaign, member_id=member_id, entered_at=entered, received_at=entered) for member_id in ids[::2]
    )
    assert ScoringDue.objects.count() == members
    return ids
