"""Property tests: random bytes and random near-valid rows never crash the importer or store anything invalid."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.imports.batches import import_batch_create, import_batch_run
from campaign.imports.checking import (
    COLUMNS,
    JAPANESE_COLUMNS,
    REQUIRED_COLUMNS,
    TYPES,
    Record,
    Window,
    errors_reason,
    record_check,
    window_for,
)
from campaign.imports.reading import file_open, row_values
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


_JST = timezone(timedelta(hours=9))
_MOMENTS = st.datetimes(min_value=datetime(2026, 2, 27), max_value=datetime(2026, 4, 3), timezones=st.just(_JST))


@PROPERTY_SETTINGS
@given(
    edges=st.lists(_MOMENTS, min_size=3, max_size=3, unique=True).map(sorted),
    moment=st.one_of(_MOMENTS, st.sampled_from(["start", "end", "latest"])),
    shift=st.sampled_from([timedelta(0), timedelta(seconds=-1), timedelta(seconds=1)]),
    kind=st.sampled_from(["payment", "cancel"]),
    form=st.sampled_from(["T", " ", "basic", "week"]),
)
def test_a_time_in_the_systems_own_form_is_judged_as_the_moment_it_names(edges, moment, shift, kind, form):
    """The check compares a time written 2026-03-06T07:30:00+09:00 as text: held to datetime
    comparisons, at the period's edges and the clock's to the second, bounds with microseconds too."""
    start, end, now = edges
    window = Window(starts_at=start, ends_at=end, cutoff_at=now + timedelta(days=1), now=now, skew=timedelta(0))
    if isinstance(moment, str):  # a row at an edge, or a second beside it
        moment = {"start": start, "end": end, "latest": now}[moment]
    moment = moment.replace(microsecond=0) + shift
    if form == "basic":  # as wide as the usual form, but another form: 2026-04-01T000000.5+09:00
        moment += timedelta(microseconds=500_000)
        text = f"{moment:%Y-%m-%dT%H%M%S}.5+09:00"
    elif form == "week":  # 2026-W14-3T00:00:00+09:00
        year, week, day = moment.isocalendar()
        text = f"{year}-W{week:02d}-{day}T{moment:%H:%M:%S}+09:00"
    else:
        text = moment.isoformat(sep=form)
    original = "T0" if kind == "cancel" else ""
    record, errors = record_check(("T1", "M1", kind, "500", "", "" if original else "S1", text, original, ""), window)
    in_time = moment <= now and (kind == "cancel" or start <= moment < end)
    assert (record is not None) == in_time, errors
    assert record is None or record.occurred_at == moment


# --- an import stores exactly what the one row check accepts, at every edge ------------------

ODD_IDS = ["T1", "T2", " T3", "T 4", "x" * 64, "x" * 65, "髙", "T\\1", 'T"1', "T,1", "T\t1", "T\n1", ""]
fast_ids = st.one_of(
    st.sampled_from(ODD_IDS),
    st.text(alphabet="AT09-_髙 ,", min_size=0, max_size=8),
)
ODD_MEMBERS = ["M1", "M-1_a", "m" * 64, "m" * 65, "M 1", " M1", "会員", "M\\1", "M,1", "", "M\x7f", "M[1]", 'M"1']
fast_members = st.sampled_from(ODD_MEMBERS)
ODD_TYPES = [
    "charge",
    "payment",
    "cancel",
    "チャージ",
    "支払",
    "支払い",
    "取消",
    "取消し",
    "Payment",
    " charge",
    "refund",
    "",
]
fast_types = st.sampled_from(ODD_TYPES)
ODD_AMOUNTS = [
    "0",
    "500",
    "0500",
    "1,000",
    "01,000",
    "1,0000",
    "1,000,000",
    "12,345,678,901",
    "1,000,000,000,000",
    "1,000,000,000,001",
    "999999999999",
    "1000000000000",
    "1000000000001",
    "9999999999999",
    "99999999999999",
    "-5",
    "5.5",
    " 500",
    "１０００",
    "1_000",
    "",
]
fast_amounts = st.one_of(
    st.sampled_from(ODD_AMOUNTS),
    st.integers(min_value=0, max_value=20_000).map(str),
)
ODD_POINTS = ["", "0", "100", "1,000", "600", "500", "0500", "-1", "x", " 1", "1000000000001"]
ODD_MERCHANTS = ["", "S1", "KOBE-03", "ｶﾌｪ①", "x" * 64, "x" * 65, " S1", "S 1", "S\\1"]
ODD_ORIGINALS = ["", "T1", "T2", "T9", " T9", "x" * 64, "x" * 65, "T\\9"]
ODD_METHODS = ["", "card", "jwest_card", "seven_atm", "bank", "paypay", "SEVEN_ATM", " card"]
fast_points = st.sampled_from(ODD_POINTS)
fast_merchants = st.sampled_from(ODD_MERCHANTS)
fast_originals = st.sampled_from(ODD_ORIGINALS)
fast_methods = st.sampled_from(ODD_METHODS)
_ANCHORS = [
    datetime(2026, 3, 2, 0, 0, 0),  # the period's start (JST) in the window below
    datetime(2026, 3, 1, 23, 59, 59),
    datetime(2026, 4, 1, 0, 0, 0),  # its end
    datetime(2026, 3, 31, 23, 59, 59),
    datetime(2026, 3, 25, 12, 5, 0),  # now + skew (JST) when the clock is in the period
    datetime(2026, 3, 25, 12, 5, 1),
    datetime(2026, 3, 25, 3, 5, 0),
]
fast_naive = st.one_of(
    st.datetimes(min_value=datetime(2026, 3, 2), max_value=datetime(2026, 3, 31, 23, 59, 59)),  # in the period
    st.sampled_from(_ANCHORS),
    st.datetimes(min_value=datetime(2026, 2, 25), max_value=datetime(2026, 4, 5)),
)


@st.composite
def fast_times(draw) -> str:
    """A time in one of the forms of SPEC 3.1, or nearly so."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.sampled_from(
                [
                    "2026-02-30 10:00:00",
                    "2026-03-06 24:00:00",
                    "2026-03-06 07:60:00",
                    "2026-03-06 07:30",
                    "2026-03-06T07:30:00.5+09:00",
                    "2026-03-06 7:30:00+09:00",
                    "2026/03/06 07:30:00+09:00",
                    "2026-3-6 07:30:00Z",
                    "2026-03-06T07:30:00+20:00",
                    "2026-03-06T07:30:00+0900",
                    "2026-03-06",
                    "20260306T073000",
                    " 2026-03-06 07:30:00",
                    "２０２６-03-06 07:30:00",
                    "",
                    "soon",
                ]
            )
        )
    moment = draw(fast_naive)
    form = draw(st.sampled_from(["iso", "iso_t", "iso_hour", "slash", "loose", "mixed"]))
    if form in ("iso", "iso_t", "iso_hour"):
        tz = draw(st.sampled_from(["", "", "+09:00", "Z", "+00:00", "-05:00", "+15:59", "+16:00", "-00:00"]))
    else:  # an offset is ISO 8601 only
        tz = draw(st.sampled_from(["", "", "", "", "+09:00"]))
    if tz:  # mostly the same instant as the JST moment, written with another offset
        sign = -1 if tz[0] == "-" else 1
        offset = timedelta(0) if tz == "Z" else sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
        moment = moment - timedelta(hours=9) + offset
    if form == "iso":
        return moment.strftime("%Y-%m-%d %H:%M:%S") + tz
    if form == "iso_t":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + tz
    if form == "iso_hour":
        return f"{moment:%Y-%m-%d} {moment.hour}:{moment:%M:%S}" + tz
    if form == "slash":
        return f"{moment.year}/{moment.month:02d}/{moment.day:02d} {moment.hour}:{moment:%M:%S}" + tz
    if form == "loose":
        return f"{moment.year}-{moment.month}-{moment.day} {moment.hour}:{moment:%M:%S}" + tz
    return f"{moment.year}/{moment.month}-{moment.day:02d}T{moment.hour:02d}:{moment:%M:%S}" + tz


_WIDE = (
    fast_ids,
    fast_members,
    fast_types,
    fast_amounts,
    fast_points,
    fast_merchants,
    None,
    fast_originals,
    fast_methods,
)


@st.composite
def fast_row(draw) -> tuple:
    """A row valid for its type, then (every other time) one column replaced by an odd or bad value."""
    type_text = draw(st.sampled_from(list(TYPES)))
    kind = TYPES[type_text]
    amount = draw(
        st.one_of(
            st.sampled_from(["0", "500", "0500", "1,000", "01,000", "1,000,000", "999999999999", "1000000000000"]),
            st.integers(min_value=0, max_value=20_000).map(str),
        )
    )
    value = int(amount.replace(",", ""))
    points = draw(
        st.sampled_from(
            ["", "0", str(value + 1)] + ([str(value), str(value // 2), f"{value:,}"] if kind == "payment" else ["1"])
        )
    )
    row = [
        draw(st.sampled_from(["T1", "T2", "x" * 64, "髙", "A-9_z", "T!"])),
        draw(st.sampled_from(["M1", "M2", "m" * 64, "M-1_a"])),
        type_text,
        amount,
        points,
        draw(st.sampled_from(["S1", "KOBE-03", "x" * 64])) if kind == "payment" else "",
        draw(fast_times()),
        draw(st.sampled_from(["T9", "x" * 63 + "y", "T1"])) if kind == "cancel" else "",
        "" if kind == "payment" else draw(st.sampled_from(["", "card", "jwest_card", "seven_atm", "bank"])),
    ]
    if kind == "cancel":
        row[5] = draw(st.sampled_from(["", "S1"]))
    if draw(st.booleans()):
        column = draw(st.sampled_from([i for i, wide in enumerate(_WIDE) if wide is not None]))
        row[column] = draw(_WIDE[column])
    return tuple(row)


fast_rows = st.lists(fast_row(), min_size=1, max_size=25)
_JAPANESE = {english: japanese for japanese, english in JAPANESE_COLUMNS.items()}
OPTIONAL = [column for column in COLUMNS if column not in REQUIRED_COLUMNS]


@st.composite
def fast_layouts(draw):
    """A header: the columns in any order, in English or Japanese, some optional ones absent, unknown ones added."""
    absent = draw(st.sets(st.sampled_from(OPTIONAL)))
    columns = [column for column in COLUMNS if column not in absent]
    extra = draw(st.sampled_from([[], [], ["memo"], ["備考", ""]]))
    order = draw(st.permutations(columns + extra))
    names = [(_JAPANESE[name] if draw(st.booleans()) else name) if name in COLUMNS else name for name in order]
    return order, names


CLOCKS = {
    "in the period": "2026-03-25T12:00:00+09:00",  # now + skew is the anchor 12:05:00 below
    "after the period": "2026-04-05T12:00:00+09:00",
    "after the cut-off": "2026-04-11T00:00:00+09:00",
}


def _import_compare(directory, rows, campaign, *, order=COLUMNS, names=COLUMNS, delimiter=",") -> int:
    """Import the rows as a CSV file (each row its own id) and hold the store to ``record_check``, row by
    row: the stored values are those it returns, the rejected lines carry its reasons. Returns rows stored."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(names)
    for i, row in enumerate(rows):
        by_column = dict(zip(COLUMNS, row, strict=True))
        by_column["transaction_id"] = f"{by_column['transaction_id']}#{i}" if i % 5 else f"T{i}"
        writer.writerow([by_column.get(name, "") for name in order])
    path = directory / "rows.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    window = window_for(campaign)
    expected_stored, expected_rejected = {}, {}
    source = file_open(path)
    for line, values in source.rows():
        picked, problem = row_values(values, source.header)
        record, errors = record_check(picked, window)
        assert not problem
        if record is None:
            expected_rejected[line] = errors_reason(errors)
        else:
            expected_stored.setdefault(record.transaction_id, record)
    Transaction.objects.all().delete()
    batch = import_batch_run(batch=import_batch_create(campaign=campaign, path=path), path=path, scoring="none")
    assert batch.status == ImportStatus.DONE
    stored = {row[0]: Record(*row) for row in Transaction.objects.values_list(*COLUMNS)}
    assert stored == expected_stored
    assert dict(batch.rejections.values_list("line", "reason")) == expected_rejected
    assert (batch.accepted, batch.duplicates, batch.rejected) == (len(stored), 0, len(expected_rejected))
    return len(stored)


@pytest.mark.parametrize("when", ["in the period", "after the period", "after the cut-off"])
@pytest.mark.django_db
def test_the_import_agrees_with_the_check_at_every_edge_of_the_period_and_in_every_time_form(
    tmp_path, campaign, clock, when
):
    """Every anchor time (the period's edges, the clock's) in every form and offset, for each type."""
    rows = []
    moments = [*_ANCHORS, *(anchor + timedelta(seconds=1) for anchor in _ANCHORS), datetime(2026, 3, 10, 9, 5, 7)]
    for moment in moments:
        for tz, offset in [
            ("", 9),
            ("+09:00", 9),
            ("Z", 0),
            ("+00:00", 0),
            ("-00:00", 0),
            ("-05:00", -5),
            ("+15:59", 15 + 59 / 60),
            ("+16:00", 16),
            ("+14:00", 14),
        ]:
            shifted = moment + timedelta(hours=offset - 9)
            texts = [
                shifted.strftime("%Y-%m-%d %H:%M:%S") + tz,
                shifted.strftime("%Y-%m-%dT%H:%M:%S") + tz,
                f"{shifted:%Y-%m-%d} {shifted.hour}:{shifted:%M:%S}" + tz,
                f"{shifted.year}/{shifted.month}/{shifted.day} {shifted.hour}:{shifted:%M:%S}" + tz,
                f"{shifted.year}-{shifted.month}-{shifted.day:02d}T{shifted:%H:%M:%S}" + tz,
            ]
            for text in texts:
                rows.append(("T1", "M1", "payment", "1,000", "1,000", "S1", text, "", ""))
                rows.append(("T2", "M1", "チャージ", "500", "", "", text, "", "card"))
                rows.append(("T3", "M1", "取消", "500", "", "", text, "T1", ""))
    clock(CLOCKS[when])
    stored = _import_compare(tmp_path, rows, campaign)
    assert (stored == 0) == (when == "after the cut-off")


@pytest.mark.django_db
def test_the_import_agrees_with_the_check_on_every_odd_value_of_every_column(tmp_path, in_campaign, clock):
    """A valid row of each type with one column replaced by each odd value of that column."""
    bases = [
        ("T1", "M1", "payment", "1,000", "100", "S1", "2026-03-10 09:05:07", "", ""),
        ("T2", "M1", "charge", "500", "", "", "2026-03-10T09:05:07+09:00", "", "card"),
        ("T3", "M1", "cancel", "500", "", "S1", "2026-03-10T00:05:07Z", "T1", ""),
    ]
    odd = [ODD_IDS, ODD_MEMBERS, ODD_TYPES, ODD_AMOUNTS, ODD_POINTS, ODD_MERCHANTS, None, ODD_ORIGINALS, ODD_METHODS]
    rows = list(bases)
    for base in bases:
        for column, values in enumerate(odd):
            for value in values or ():
                rows.append((*base[:column], value, *base[column + 1 :]))
        rows.append((*base[:7], base[0], *base[8:]))  # the original names the row itself
    clock(CLOCKS["after the period"])
    assert _import_compare(tmp_path, rows, in_campaign) > len(rows) // 3


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=fast_rows, layout=fast_layouts(), delimiter=st.sampled_from([",", "\t"]))
def test_an_import_stores_exactly_what_the_complete_check_accepts(
    tmp_path_factory, in_campaign, data, layout, delimiter
):
    """End to end, on SQLite and PostgreSQL: each row's own id, so no duplicates; the stored values
    and the rejected lines with their reasons are those of the complete check, row by row."""
    order, names = layout
    _import_compare(tmp_path_factory.mktemp("exact"), data, in_campaign, order=order, names=names, delimiter=delimiter)
