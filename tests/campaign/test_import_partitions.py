"""A file staged whole, then merged partition by partition (PostgreSQL): the answers of one merge.

On PostgreSQL the staged file is hash-partitioned on the member and each partition is merged and
committed on its own; the first partition goes in while the file is read, as long as its ids have
only increased. These tests make partitions of a few rows, so that a small file has many, and
check that the judgement is the one of a single merge (SQLite runs them too: its batched merge
is the reference).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign import ingest
from campaign.importers import file_open
from campaign.ingest import import_batch_create, import_batch_run, transactions_import
from campaign.models import ImportBatch, ImportRejection, ImportStatus, Member, Transaction

pytestmark = pytest.mark.usefixtures("english")

HEADER = (
    "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at,original_transaction_id,charge_method"
)


def _file(tmp_path, rows: list[str], name: str = "tx.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _pay(tid: str, member: str, amount: int = 500, when: str = "2026-03-06 07:30:00") -> str:
    return f"{tid},{member},payment,{amount},,S1,{when},,"


@pytest.fixture
def small_parts(monkeypatch):
    """Partitions of three staged rows and chunks of four: a file of 60 rows has 20 partitions."""
    monkeypatch.setattr(ingest, "STAGE_PART_ROWS", 3)
    monkeypatch.setattr(ingest, "COPY_CHUNK", 4)


def test_an_id_repeated_for_other_members_keeps_its_first_occurrence(tmp_path, in_campaign, small_parts):
    """The repeats of an id with another member fall in other partitions, merged in any order: the
    first line still wins, and every later one is a conflict (other content) or a duplicate."""
    rows = []
    for n in range(20):
        rows.append(_pay(f"R{n:02d}", f"A{n:02d}", amount=100 + n))  # the first occurrence
    for n in range(20):
        rows.append(_pay(f"R{n:02d}", f"B{n:02d}", amount=100 + n))  # same id, another member: a conflict
    for n in range(0, 20, 5):
        rows.append(_pay(f"R{n:02d}", f"A{n:02d}", amount=100 + n))  # the first one again: a duplicate
    path = _file(tmp_path, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.accepted, batch.duplicates, batch.rejected) == (20, 4, 20)
    stored = dict(Transaction.objects.values_list("transaction_id", "member_id"))
    assert stored == {f"R{n:02d}": f"A{n:02d}" for n in range(20)}
    conflicts = ImportRejection.objects.filter(batch=batch, reason__contains="different content")
    assert sorted(conflicts.values_list("line", flat=True)) == list(range(22, 42))


def test_ids_stored_before_are_judged_in_every_partition(tmp_path, in_campaign, small_parts):
    first = _file(tmp_path, [_pay(f"T{n:02d}", f"M{n % 7}") for n in range(0, 30, 3)], name="first.csv")
    import_batch_run(batch=import_batch_create(campaign=in_campaign, path=first), path=first, scoring="none")
    rows = [_pay(f"T{n:02d}", f"M{n % 7}", amount=500 if n % 2 else 600) for n in range(30)]
    path = _file(tmp_path, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    # T00, T03, … T27 were stored with 500: the odd ones are duplicates, the even ones conflicts.
    assert (batch.accepted, batch.duplicates, batch.rejected) == (20, 5, 5)
    assert Transaction.objects.count() == 30
    assert Transaction.objects.get(transaction_id="T06").amount == 500  # the stored record is kept
    assert Transaction.objects.get(transaction_id="T08").amount == 600


def test_the_first_partition_read_in_goes_on_by_merge_once_ids_stop_increasing(tmp_path, in_campaign, small_parts):
    """T0…T9 then T10: the ids stop increasing (T10 < T9) in the third chunk; the rest is merged."""
    rows = [_pay(f"T{n}", f"M{n % 4}") for n in range(40)]
    rows.append(_pay("T3", "M3"))  # a later occurrence of an id: a duplicate
    rows.append(_pay("T5", "M1", amount=999))  # another: a conflict
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    result = transactions_import(campaign=in_campaign, source=file_open(path), batch=batch, scoring="none")
    assert not result.ids_ascending
    assert (result.accepted, result.duplicates, result.rejected) == (40, 1, 1)
    assert Transaction.objects.count() == 40
    assert Transaction.objects.get(transaction_id="T5").amount == 500


def test_the_first_partition_read_in_stops_at_an_id_stored_before(tmp_path, in_campaign, small_parts):
    first = _file(tmp_path, [_pay("T17", "M2")], name="first.csv")
    import_batch_run(batch=import_batch_create(campaign=in_campaign, path=first), path=first, scoring="none")
    rows = [_pay(f"T{n:02d}", f"M{n % 3}") for n in range(30)]  # ids only increase; T17 is stored
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    result = transactions_import(campaign=in_campaign, source=file_open(path), batch=batch, scoring="none")
    assert result.ids_ascending
    assert (result.accepted, result.duplicates, result.rejected) == (29, 1, 0)
    assert Transaction.objects.count() == 30
    assert Transaction.objects.filter(import_batch=batch).count() == 29


@pytest.mark.parametrize(
    ("rows", "ascending"),
    [
        ([_pay("T01", "M1"), _pay("T02", "M2"), _pay("T10", "M1")], True),
        ([_pay("T01", "M1"), _pay("T10", "M2"), _pay("T02", "M1")], False),
        ([_pay("T01", "M1"), _pay("T01", "M1")], False),
        # A row the common form does not cover (a quoted comma) is judged alone: unknown, so False.
        ([_pay("T01", "M1"), 'T02,M1,payment,500,,"S,1",2026-03-06 07:30:00,,'], False),
    ],
)
def test_the_reader_tells_whether_the_ids_only_increase(tmp_path, in_campaign, rows, ascending):
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    result = transactions_import(campaign=in_campaign, source=file_open(path), batch=batch, scoring="none")
    assert result.ids_ascending is ascending
    assert result.rejected == 0


def _cards() -> list[tuple]:
    from missions.models import StampCard

    return sorted(
        StampCard.objects.values_list(
            "member_id", "entered", "stamps_cleared", "points_limited", "points_basic", "lottery_eligible"
        )
    )


def _stamps() -> list[tuple]:
    from missions.models import Stamp

    return sorted(Stamp.objects.values_list("member_id", "mission__code", "progress", "cleared", "cleared_at"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_command_scores_each_partition_in_processes_as_a_re_score_would(
    tmp_path, in_campaign, postgres_only, small_parts
):
    """Partitions are scored by forked processes as they are committed: the scores of a re-score."""
    from missions.models import LedgerLine, Stamp, StampCard
    from missions.services import members_score
    from tests.campaign.factories import EntryFactory, MemberFactory

    for n in range(0, 12, 2):
        EntryFactory(member=MemberFactory(member_id=f"M{n:02d}"))
    rows = []
    for n in range(12):
        rows.append(f"C{n:02d},M{n:02d},charge,{10000 * (n + 1)},,,2026-03-03 08:00:00,,bank")
        for day in range(n % 5 + 1):
            rows.append(_pay(f"P{n:02d}{day}", f"M{n:02d}", amount=1500, when=f"2026-03-{4 + day:02d} 07:30:00"))
    path = _file(tmp_path, rows)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_transactions", str(path), stdout=out, stderr=err, verbosity=2)
    assert out.getvalue().strip().splitlines()[-1] == f"rows={len(rows)} accepted={len(rows)} duplicates=0 rejected=0"
    assert "stage=" in err.getvalue() and "score=" in err.getvalue()
    imported = (_stamps(), _cards())
    assert len(imported[1]) == 12 and any(card[2] for card in imported[1])
    for model in (LedgerLine, Stamp, StampCard):
        model.objects.all().delete()
    members_score(campaign=in_campaign)
    assert (_stamps(), _cards()) == imported


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failure_part_way_keeps_the_partitions_merged_and_a_new_import_completes_them(
    tmp_path, in_campaign, postgres_only, small_parts, monkeypatch
):
    """Partitions commit one by one: a failure in the third leaves the first two stored (nothing
    half-stored), the import is marked failed, and importing the file again stores the rest."""
    rows = [_pay(f"T{n:02d}", f"M{n:02d}") for n in range(30)]
    path = _file(tmp_path, rows)
    merged = ingest._part_merge
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["part"])
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return merged(**kwargs)

    monkeypatch.setattr(ingest, "_part_merge", failing)
    with pytest.raises(RuntimeError):
        import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    failed = ImportBatch.objects.get()
    assert failed.status == ImportStatus.FAILED and "went away" in failed.message
    stored = Transaction.objects.count()
    assert 0 < stored < 30
    # Whole members only: each stored member has all of their rows (one row each here) and a Member.
    assert Member.objects.filter(member_id__in=Transaction.objects.values("member_id")).count() == stored
    monkeypatch.setattr(ingest, "_part_merge", merged)
    again = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert again.status == ImportStatus.DONE
    assert (again.accepted, again.duplicates, again.rejected) == (30 - stored, stored, 0)
    assert Transaction.objects.count() == 30


def _import_in_a_daemonic_process(path: str, scoring: str, done) -> None:
    from campaign.models import Campaign

    try:
        campaign = Campaign.objects.current()
        batch = import_batch_run(batch=import_batch_create(campaign=campaign, path=path), path=path, scoring=scoring)
        done.put((batch.status, batch.accepted, batch.message))
    except BaseException as exc:  # the parent's assertion shows it
        done.put(("crashed", 0, f"{type(exc).__name__}: {exc}"))
    finally:
        from django.db import connections

        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scoring", ["now", "later"])
def test_a_process_that_may_not_fork_imports_with_a_thread(tmp_path, in_campaign, postgres_only, small_parts, scoring):
    """A Celery worker's process is daemonic: it may not fork the reader or the scoring processes
    (multiprocessing refuses), so the import reads with a thread and scores in its own connection."""
    import multiprocessing

    from django.db import connections

    from missions.models import StampCard

    rows = [_pay(f"T{n:02d}", f"M{n % 9}") for n in range(30)]
    path = _file(tmp_path, rows)
    connections.close_all()  # the child opens its own
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    child = context.Process(target=_import_in_a_daemonic_process, args=(str(path), scoring, done), daemon=True)
    child.start()
    status, accepted, message = done.get(timeout=60)
    child.join(timeout=60)
    assert (status, accepted) == (ImportStatus.DONE, 30), message
    assert Transaction.objects.count() == 30
    assert StampCard.objects.count() == 9  # scored at once, or by the (inline) queued tasks


def test_the_running_import_says_how_many_parts_are_stored(tmp_path, in_campaign, small_parts, monkeypatch):
    """The bar is full once the file is read; the admin page then shows the parts stored so far."""
    from django.db import connection

    rows = [_pay(f"T{n:02d}", f"M{n:02d}") for n in range(12)]
    path = _file(tmp_path, rows)
    merged, said = ingest._part_merge, []

    def spying(**kwargs):
        said.append(ImportBatch.objects.get().message)
        return merged(**kwargs)

    monkeypatch.setattr(ingest, "_part_merge", spying)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.message == "rows=12 accepted=12 duplicates=0 rejected=0"
    if connection.vendor != "postgresql":
        assert said == []  # SQLite merges in batches as it reads: no parts
        return
    parts = len(said) + 1  # the first part is stored while the file is read
    assert said == [f"File read and checked; {n} of {parts} parts stored." for n in range(1, parts)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_reader_process_hands_over_rejected_rows_and_refusals(tmp_path, in_campaign, postgres_only, small_parts):
    """Outside a transaction the rows are read in a forked process: its rejected rows (with their
    lines and reasons) and a refusal part-way reach the import as a thread's would."""
    rows = [_pay(f"T{n:02d}", f"M{n % 5}") for n in range(20)]
    rows[7] = "T07,M2,payment,-5,,S1,2026-03-06 07:30:00,,"
    path = _file(tmp_path, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.status, batch.accepted, batch.rejected) == (ImportStatus.DONE, 19, 1)
    rejection = ImportRejection.objects.get(batch=batch)
    assert (rejection.line, rejection.transaction_id, rejection.raw["amount"]) == (9, "T07", "-5")
    assert "amount" in rejection.reason

    rows = [_pay(f"U{n:02d}", f"M{n % 5}") for n in range(20)]
    rows.insert(15, 'U99,M1,payment,500,,"' + "x" * 200_000 + '",2026-03-06 07:30:00,,')
    rows.insert(3, "U98,M1,payment,-1,,S1,2026-03-06 07:30:00,,")
    path = _file(tmp_path, rows, name="refused.csv")
    refused = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert refused.status == ImportStatus.REFUSED and "line" in refused.message
    assert not Transaction.objects.filter(transaction_id__startswith="U").exists()
    assert not ImportRejection.objects.filter(batch=refused).exists()


_ids = st.sampled_from(["A1", "A2", "B1", "B2", "C1", "C2"])
_members = st.sampled_from(["M1", "M2", "M3", "M4", "M5"])
_amounts = st.sampled_from([300, 500, 800])
_file_rows = st.lists(st.tuples(_ids, _members, _amounts), min_size=1, max_size=14)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_file_rows, stored=st.lists(st.tuples(_ids, _members, _amounts), max_size=3), ascending=st.booleans())
def test_any_file_is_judged_as_one_merge_in_file_order_would(tmp_path_factory, in_campaign, rows, stored, ascending):
    """Random repeats of ids, with the same or other members and amounts, some ids stored before:
    whatever the partitions and their merge order, the first occurrence in the file is stored
    unless the id was stored already, and every other row is a duplicate or a conflict."""
    if ascending:  # ids that only increase (the first partition then goes in while the file is read)
        rows = sorted({tid: (tid, member, amount) for tid, member, amount in rows}.values())
    Transaction.objects.all().delete()
    before = {}
    if stored:
        first = tmp_path_factory.mktemp("stored")
        before = {tid: (member, amount) for tid, member, amount in reversed(stored)}
        path = _file(first, [_pay(tid, member, amount) for tid, (member, amount) in before.items()])
        import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    expected, accepted, duplicates, conflicts = dict(before), 0, 0, []
    for line, (tid, member, amount) in enumerate(rows, start=2):
        if tid not in expected:
            expected[tid] = (member, amount)
            accepted += 1
        elif expected[tid] == (member, amount):
            duplicates += 1
        else:
            conflicts.append(line)
    path = _file(tmp_path_factory.mktemp("file"), [_pay(tid, member, amount) for tid, member, amount in rows])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "STAGE_PART_ROWS", 2)
        patch.setattr(ingest, "COPY_CHUNK", 3)
        batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.accepted, batch.duplicates, batch.rejected) == (accepted, duplicates, len(conflicts))
    assert {
        t: (m, a) for t, m, a in Transaction.objects.values_list("transaction_id", "member_id", "amount")
    } == expected
    assert sorted(ImportRejection.objects.filter(batch=batch).values_list("line", flat=True)) == conflicts
