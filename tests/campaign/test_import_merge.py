"""A file staged whole, then merged set-based slice by slice: the answers of one merge in file order.

These tests read the file in chunks of a few rows (each its own COPY on PostgreSQL) and merge it in
slices of a few rows (whole members each, committed one by one), so that a small file has many of
both, and check that the judgement is the one of a single merge in file order.
"""

from __future__ import annotations

import io

import pytest
from celery import group
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.imports import batches, merging
from campaign.imports.batches import import_batch_create, import_batch_run, transactions_import
from campaign.imports.reading import file_open
from campaign.models import ImportBatch, ImportRejection, ImportStatus, Member, Transaction
from tests.campaign.factories import xlsx_broken_at

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
    """Chunks of four rows and slices of about three: a file of 60 rows is staged by 15 COPY
    statements and merged in about 20 transactions."""
    monkeypatch.setattr(batches, "CHUNK_ROWS", 4)
    monkeypatch.setattr(merging, "SLICE_ROWS", 3)


def test_an_id_repeated_for_other_members_keeps_its_first_occurrence(tmp_path, in_campaign, small_parts):
    """The repeats of an id with another member fall in other slices, merged in member order: the
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


def test_ids_stored_before_are_judged_in_every_chunk(tmp_path, in_campaign, small_parts):
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


def test_ids_out_of_order_and_repeated_later_are_judged_by_their_first_occurrence(tmp_path, in_campaign, small_parts):
    """T0…T9 then T10 (T10 < T9 in id order), then a repeat that is a duplicate and one that conflicts."""
    rows = [_pay(f"T{n}", f"M{n % 4}") for n in range(40)]
    rows.append(_pay("T3", "M3"))  # a later occurrence of an id: a duplicate
    rows.append(_pay("T5", "M1", amount=999))  # another: a conflict
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    result = transactions_import(campaign=in_campaign, source=file_open(path), batch=batch, scoring="none")
    assert (result.accepted, result.duplicates, result.rejected) == (40, 1, 1)
    assert Transaction.objects.count() == 40
    assert Transaction.objects.get(transaction_id="T5").amount == 500


def test_a_file_of_increasing_ids_with_one_stored_before_stores_the_others(tmp_path, in_campaign, small_parts):
    first = _file(tmp_path, [_pay("T17", "M2")], name="first.csv")
    import_batch_run(batch=import_batch_create(campaign=in_campaign, path=first), path=first, scoring="none")
    rows = [_pay(f"T{n:02d}", f"M{n % 3}") for n in range(30)]  # ids only increase; T17 is stored
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    result = transactions_import(campaign=in_campaign, source=file_open(path), batch=batch, scoring="none")
    assert (result.accepted, result.duplicates, result.rejected) == (29, 1, 0)
    assert Transaction.objects.count() == 30
    assert Transaction.objects.filter(import_batch=batch).count() == 29


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
def test_the_command_scores_by_a_group_of_task_chunks_as_a_re_score_would(
    tmp_path, in_campaign, postgres_only, small_parts, monkeypatch
):
    """The members of each committed slice go to scoring tasks (a Celery group): the scores of a re-score."""
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
    monkeypatch.setattr(batches, "SCORE_CHUNK", 1)  # a slice's members spread over up to SCORE_SPREAD tasks
    sent = []

    def spied(tasks):
        sent.append(list(tasks))
        return group(sent[-1])

    monkeypatch.setattr(batches, "group", spied)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_transactions", str(path), stdout=out, stderr=err, verbosity=2)
    # One group per committed slice; each member in exactly one task.
    scored = [member for job in sent for task in job for member in task.args[1]]
    assert len(sent) > 1 and sorted(scored) == [f"M{n:02d}" for n in range(12)]
    assert out.getvalue().strip().splitlines()[-1] == f"rows={len(rows)} accepted={len(rows)} duplicates=0 rejected=0"
    assert "stage=" in err.getvalue() and "score=" in err.getvalue()
    imported = (_stamps(), _cards())
    assert len(imported[1]) == 12 and any(card[2] for card in imported[1])
    for model in (LedgerLine, Stamp, StampCard):
        model.objects.all().delete()
    members_score(campaign=in_campaign)
    assert (_stamps(), _cards()) == imported


@pytest.mark.django_db(transaction=True)
def test_listed_members_scored_by_a_group_of_chunks_give_the_serial_result(in_campaign, monkeypatch):
    """The import's scoring group scores exactly the listed members, as one serial scoring would."""
    from missions.models import LedgerLine, Stamp, StampCard
    from missions.services import members_score
    from tests.missions.factories import EntryFactory, MemberFactory, charge, pay

    members = []
    for i in range(6):
        member = EntryFactory().member if i % 3 else MemberFactory()
        members.append(member.pk)
        charge(member, "2026-03-03 08:00", 10000 * (i + 1))
        for day in range(3 + i):
            pay(member, f"2026-03-{4 + day:02d} 07:30", 500 + 1000 * i)
    untouched = MemberFactory()
    charge(untouched, "2026-03-03 09:00", 1000)  # not listed: not scored
    monkeypatch.setattr(batches, "SCORE_CHUNK", 1)  # six members in four tasks
    batches.members_score_group(campaign=in_campaign, member_ids=sorted(members), wait=True)
    grouped = (_stamps(), _cards(), sorted(LedgerLine.objects.values_list("member_id", "reward", "points")))
    assert grouped[2] and not StampCard.objects.filter(member_id=untouched.pk).exists()
    for model in (LedgerLine, Stamp, StampCard):
        model.objects.all().delete()
    members_score(campaign=in_campaign, member_ids=members)
    assert (_stamps(), _cards(), sorted(LedgerLine.objects.values_list("member_id", "reward", "points"))) == grouped


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failure_part_way_keeps_the_slices_merged_and_a_new_import_completes_them(
    tmp_path, in_campaign, postgres_only, small_parts, monkeypatch
):
    """Slices commit one by one: a failure in the third leaves the first two stored (whole members,
    nothing half-stored), the import is marked failed, and importing the file again stores the rest."""
    rows = [_pay(f"T{n:02d}", f"M{n:02d}") for n in range(30)]
    path = _file(tmp_path, rows)
    inserted = merging._slice_insert
    calls = []

    def failing(*args, **kwargs):
        calls.append(kwargs["first"])
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return inserted(*args, **kwargs)

    monkeypatch.setattr(merging, "_slice_insert", failing)
    with pytest.raises(RuntimeError):
        import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    failed = ImportBatch.objects.get()
    assert failed.status == ImportStatus.FAILED and "went away" in failed.message
    stored = Transaction.objects.count()
    assert 0 < stored < 30
    # Whole members only: each stored member has all of their rows (one row each here) and a Member.
    assert Member.objects.filter(member_id__in=Transaction.objects.values("member_id")).count() == stored
    monkeypatch.setattr(merging, "_slice_insert", inserted)
    again = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert again.status == ImportStatus.DONE
    assert (again.accepted, again.duplicates, again.rejected) == (30 - stored, stored, 0)
    assert Transaction.objects.count() == 30


def test_the_running_import_says_how_many_parts_are_stored(tmp_path, in_campaign, small_parts, monkeypatch):
    """The bar is full once the file is read; the admin page then shows the slices stored so far."""
    rows = [_pay(f"T{n:02d}", f"M{n:02d}") for n in range(12)]
    path = _file(tmp_path, rows)
    inserted, said = merging._slice_insert, []

    def spying(*args, **kwargs):
        said.append(ImportBatch.objects.get().message)
        return inserted(*args, **kwargs)

    monkeypatch.setattr(merging, "_slice_insert", spying)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.message == "rows=12 accepted=12 duplicates=0 rejected=0"
    assert said == [""] + [f"File read and checked; {n} of 4 parts stored." for n in range(1, 4)]


@pytest.fixture
def daemonic():
    """This process as a Celery worker's pool process: daemonic, so starting a child process fails."""
    import multiprocessing

    config = multiprocessing.current_process()._config
    before = config.get("daemon", False)
    config["daemon"] = True
    yield
    config["daemon"] = before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scoring", ["now", "later"])
def test_an_import_runs_in_a_daemonic_process_as_a_celery_worker_s(
    tmp_path, in_campaign, postgres_only, small_parts, scoring, daemonic
):
    """A Celery worker's pool process is daemonic (it may not have children): the import starts no
    process of its own and scores through the tasks, inline here."""
    import multiprocessing

    from missions.models import StampCard

    with pytest.raises(AssertionError, match="daemonic"):  # the guard is on: a fork pool would fail
        multiprocessing.get_context("fork").Process(target=print).start()
    rows = [_pay(f"T{n:02d}", f"M{n % 9}") for n in range(30)]
    path = _file(tmp_path, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring=scoring)
    assert (batch.status, batch.accepted) == (ImportStatus.DONE, 30), batch.message
    assert Transaction.objects.count() == 30
    assert StampCard.objects.count() == 9  # scored at once, or by the (inline) queued tasks


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rejected_rows_keep_their_lines_and_a_refusal_part_way_stores_nothing(
    tmp_path, in_campaign, postgres_only, small_parts
):
    """Outside a transaction the chunks commit as they go: the rejected rows keep their lines and
    reasons, and a file refused part way leaves neither records nor rejected rows."""
    rows = [_pay(f"T{n:02d}", f"M{n % 5}") for n in range(20)]
    rows[7] = "T07,M2,payment,-5,,S1,2026-03-06 07:30:00,,"
    path = _file(tmp_path, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.status, batch.accepted, batch.rejected) == (ImportStatus.DONE, 19, 1)
    rejection = ImportRejection.objects.get(batch=batch)
    assert (rejection.line, rejection.transaction_id, rejection.raw["amount"]) == (9, "T07", "-5")
    assert "amount" in rejection.reason

    rows = [_pay(f"U{n:02d}", f"M{n % 5}") for n in range(200)]
    rows.insert(3, "U98,M1,payment,-1,,S1,2026-03-06 07:30:00,,")
    path = xlsx_broken_at(tmp_path / "refused.xlsx", [HEADER, *rows], 150)
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
    whatever the chunks, the first occurrence in the file is stored
    unless the id was stored already, and every other row is a duplicate or a conflict."""
    if ascending:  # ids that only increase (the merge's insert then finds no repeat)
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
        patch.setattr(batches, "CHUNK_ROWS", 3)
        patch.setattr(merging, "SLICE_ROWS", 2)
        batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.accepted, batch.duplicates, batch.rejected) == (accepted, duplicates, len(conflicts))
    assert {
        t: (m, a) for t, m, a in Transaction.objects.values_list("transaction_id", "member_id", "amount")
    } == expected
    assert sorted(ImportRejection.objects.filter(batch=batch).values_list("line", flat=True)) == conflicts


def test_a_conflicts_report_row_keeps_the_time_it_names_when_imported_again(tmp_path, in_campaign):
    """The report of rejected rows is meant to be corrected and imported again; a time without an
    offset is read as JST, so the conflict's time must say its offset (it was UTC without one)."""
    from campaign.imports.checking import parse_time
    from tests.campaign.factories import jst

    call_command("import_transactions", str(_file(tmp_path, [_pay("T1", "M1")], "a.csv")), stdout=io.StringIO())
    call_command("import_transactions", str(_file(tmp_path, [_pay("T1", "M1", 600)], "b.csv")), stdout=io.StringIO())
    rejection = ImportRejection.objects.get()
    assert rejection.raw["amount"] == "600"
    assert parse_time(rejection.raw["occurred_at"]) == jst("2026-03-06 07:30")
