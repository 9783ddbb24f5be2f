"""Issue 17 §2: ``manage.py import_transactions`` SIGKILLed half-way through a 200,000-row file;
importing the file again gives the exact totals, and every member is scored as a fresh re-score."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from campaign.imports.batches import imports_stale_fail
from campaign.models import Entry, ImportBatch, ImportStatus, Member, Transaction
from tests.faults.processes import ROOT, assert_scored_exactly, child_env, transactions_csv, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS, PER_MEMBER, REPEATED, INVALID = 3984, 50, 500, 300  # 3984 × 50 + 500 + 300 = 200,000 rows


def _file_rows() -> list[list]:
    rows = []
    for n in range(MEMBERS):
        member = f"IK{n:06d}"
        rows.append([f"{member}-C", member, "charge", 10000 * (1 + n % 10), "", "", "2026-03-03T08:00:00+09:00"])
        for k in range(1, PER_MEMBER):
            when = f"2026-03-{3 + k % 12:02d}T{8 + k % 12:02d}:{k:02d}:00+09:00"  # before the clock's now
            rows.append([f"{member}-P{k}", member, "payment", 300 + (7 * n + 13 * k) % 2000, 0, "SHOP-1", when])
    rows += rows[:REPEATED]  # the same ids with the same content: duplicates
    rows += [
        [f"BAD-{n}", f"IK{n:06d}", "payment", -5, 0, "SHOP-1", "2026-03-05T10:00:00+09:00"] for n in range(INVALID)
    ]
    return rows


def _import(env, path) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "import_transactions", str(path)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_import_killed_half_way_then_run_again_gives_exact_totals(in_campaign, services, tmp_path):
    rows = _file_rows()
    assert len(rows) == 200_000
    stored = rows[: MEMBERS * PER_MEMBER]
    path = transactions_csv(tmp_path / "big.csv", rows)
    entered = datetime.fromisoformat("2026-03-02T09:00:00+09:00")
    Member.objects.bulk_create(Member(member_id=f"IK{n:06d}") for n in range(0, MEMBERS, 2))
    Entry.objects.bulk_create(
        Entry(campaign=in_campaign, member_id=f"IK{n:06d}", entered_at=entered, received_at=entered)
        for n in range(0, MEMBERS, 2)
    )
    env = child_env(broker=None)  # the command scores inline, as without a broker

    killed = _import(env, path)
    wait_for(
        lambda: ImportBatch.objects.filter(rows_done__gte=100_000).exists() or killed.poll() is not None,
        seconds=60,
        what="the import to read half the file",
        every=0.02,
    )
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, "the import ended before it was killed"
    assert ImportBatch.objects.get().status == ImportStatus.RUNNING  # left as the kill found it
    assert not Transaction.objects.exists()  # the records go in after the whole file is read
    assert imports_stale_fail(now=timezone.now() + timedelta(minutes=16)) == 1  # beat marks it failed later

    again = _import(env, path)
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    assert out.splitlines()[-1] == f"rows=200000 accepted={len(stored)} duplicates={REPEATED} rejected={INVALID}"
    assert Transaction.objects.count() == len(stored)
    assert Transaction.objects.aggregate(total=Sum("amount"))["total"] == sum(row[3] for row in stored)
    assert_scored_exactly(in_campaign, members=MEMBERS)
