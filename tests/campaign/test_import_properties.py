"""Property tests: random bytes and random near-valid rows never crash the importer or store anything invalid."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.importers import COLUMNS, Window, record_check
from campaign.ingest import import_batch_create, import_batch_run, window_for
from campaign.models import ImportStatus, Transaction

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

ids = st.sampled_from(["T1", "T2", "T3", "", " T4 ", "x" * 65, "髙", "T1\t"])
members = st.sampled_from(["M1", "M2", "", "M 1", "m" * 65, "会員"])
types = st.sampled_from(["charge", "payment", "cancel", "チャージ", "支払", "取消", "Payment", "refund", ""])
amounts = st.one_of(
    st.sampled_from(["0", "500", "1,000", "1,00", "-5", "5.5", "", "abc", "１０００", "99999999999999"]),
    st.integers(min_value=-10, max_value=200_000).map(str),
)
points = st.sampled_from(["", "0", "100", "600", "-1", "x"])
merchants = st.sampled_from(["", "S1", "KOBE-03", "ｶﾌｪ①", "x" * 70])
times = st.one_of(
    st.sampled_from(
        [
            "2026-03-06 07:30:00",
            "2026/03/06 7:30:00",
            "2026-03-06T07:30:00Z",
            "2026-03-01T23:59:59+09:00",
            "2026-04-01 00:00:00",
            "2026-03-15 12:30:00",
            "2026-02-30 10:00",
            "",
            "soon",
        ]
    ),
    st.datetimes(min_value=datetime(2026, 2, 25), max_value=datetime(2026, 4, 5)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
)
originals = st.sampled_from(["", "T1", "T2", "T9"])
methods = st.sampled_from(["", "card", "bank", "paypay", "SEVEN_ATM"])
rows = st.lists(st.tuples(ids, members, types, amounts, points, merchants, times, originals, methods), max_size=12)


def _assert_stored_rows_are_valid(campaign) -> None:
    window = window_for(campaign)
    window.now += timedelta(days=365)  # stored rows were judged earlier; keep every other rule
    window.cutoff_at = window.now
    for row in Transaction.objects.values_list(*COLUMNS):
        record, errors = record_check(list(row), window)
        if record is None and set(errors) == {"occurred_at"} and row[2] == "cancel":
            continue
        assert record is not None, (row, errors)
        assert record.amount >= 0 and 0 <= record.points_used <= record.amount


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(content=st.binary(max_size=400))
def test_random_bytes_are_refused_or_imported_never_crash(tmp_path_factory, in_campaign, content):
    path = tmp_path_factory.mktemp("bytes") / "random.csv"
    path.write_bytes(content)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.status in (ImportStatus.DONE, ImportStatus.REFUSED)
    if batch.status == ImportStatus.REFUSED:
        assert batch.message
    _assert_stored_rows_are_valid(in_campaign)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=rows, encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
def test_random_near_valid_rows_never_store_anything_invalid(tmp_path_factory, in_campaign, data, encoding):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(data)
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    before = Transaction.objects.count()
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.status == ImportStatus.DONE
    assert batch.accepted + batch.duplicates + batch.rejected == batch.rows_total == len(data)
    assert Transaction.objects.count() == before + batch.accepted
    assert batch.rejections.count() == batch.rejected
    _assert_stored_rows_are_valid(in_campaign)


@PROPERTY_SETTINGS
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats()), min_size=9, max_size=9))
def test_the_row_check_never_raises_on_any_values(values):
    now = datetime(2026, 3, 15, tzinfo=UTC)
    window = Window(
        starts_at=datetime(2026, 3, 1, 15, tzinfo=UTC),
        ends_at=datetime(2026, 3, 31, 15, tzinfo=UTC),
        cutoff_at=datetime(2026, 4, 10, tzinfo=UTC),
        now=now,
        skew=timedelta(minutes=5),
    )
    record, errors = record_check(values, window)
    assert (record is None) == bool(errors)
    if record is not None:
        assert 1 <= len(record.transaction_id) <= 64 and record.type in ("charge", "payment", "cancel")


@PROPERTY_SETTINGS
@given(data=rows)
def test_the_fast_row_check_never_accepts_what_the_full_check_refuses(data):
    from campaign.importers import record_fast

    window = Window(
        starts_at=datetime(2026, 3, 1, 15, tzinfo=UTC),
        ends_at=datetime(2026, 3, 31, 15, tzinfo=UTC),
        cutoff_at=datetime(2026, 4, 10, tzinfo=UTC),
        now=datetime(2026, 3, 15, 3, tzinfo=UTC),
        skew=timedelta(minutes=5),
    )
    for values in data:
        fast = record_fast(values, window)
        if fast is not None:
            assert record_check(values, window) == (fast, {})
