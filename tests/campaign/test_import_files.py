"""Transaction files (SPEC 3.1, 3.2): encodings, XLSX, headers, every row rule, duplicates, re-import."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from django.utils.timezone import localtime

from campaign.models import ImportBatch, ImportRejection, ImportStatus, Transaction
from tests.campaign.factories import TransactionFactory, jst

pytestmark = pytest.mark.usefixtures("english")


HEADER = (
    "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at,original_transaction_id,charge_method"
)
JA_HEADER = "取引ID,会員ID,取引種別,金額,ポイント利用額,加盟店コード,取引日時,元取引ID,チャージ方法"


def write(tmp_path, text: str, encoding: str = "utf-8", name: str = "tx.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_transactions", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_a_valid_file_prints_the_summary_line_and_stores_every_row(tmp_path, in_campaign):
    path = write(
        tmp_path,
        f"{HEADER}\n"
        'T1,M1,charge,"10,000",,,2026-03-06T07:30:00+09:00,,card\n'
        "T2,M1,payment,1000,200,SHOP-1,2026-03-06 07:30:00,,\n"
        "T3,M2,cancel,1000,,,2026/03/07 7:30:00,T2,\n",
    )
    out, _err = run(path)
    assert summary(out) == "rows=3 accepted=3 duplicates=0 rejected=0"
    t2 = Transaction.objects.get(transaction_id="T2")
    assert (t2.amount, t2.points_used, t2.merchant_code, t2.source) == (1000, 200, "SHOP-1", "file")
    assert t2.import_batch.status == ImportStatus.DONE
    assert Transaction.objects.get(transaction_id="T1").amount == 10000
    assert Transaction.objects.get(transaction_id="T3").original_transaction_id == "T2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-06T07:30:00+09:00", "2026-03-06 07:30"),
        ("2026-03-05T22:30:00Z", "2026-03-06 07:30"),
        ("2026-03-05T22:30:00+00:00", "2026-03-06 07:30"),
        ("2026-03-06 07:30:00", "2026-03-06 07:30"),
        ("2026-03-06T07:30:00", "2026-03-06 07:30"),
        ("2026/03/06 7:30:00", "2026-03-06 07:30"),
        ("2026/3/6 7:30", "2026-03-06 07:30"),
        ("2026-03-06 7:30:00", "2026-03-06 07:30"),
    ],
)
def test_every_time_format_of_the_spec_is_read_and_without_offset_means_jst(tmp_path, in_campaign, text, expected):
    run(write(tmp_path, f"{HEADER}\nT1,M1,payment,500,,S1,{text},,\n"))
    assert Transaction.objects.get().occurred_at == jst(expected)


NAMES = "髙島屋①～ｶﾌｪ"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_each_encoding_round_trips_japanese_text(tmp_path, in_campaign, encoding):
    text = (
        f"{JA_HEADER},加盟店名\n"
        f'T1,M1,支払,"1,500",0,{NAMES},2026-03-06 07:30:00,,,{NAMES}ｶﾌｪ\n'
        "T2,M1,チャージ,3000,,,2026-03-06 08:00:00,,bank,\n"
        "T3,M1,取消,1500,,,2026-03-07 08:00:00,T1,,\n"
    )
    out, err = run(write(tmp_path, text, encoding))
    assert summary(out) == "rows=3 accepted=3 duplicates=0 rejected=0"
    assert Transaction.objects.get(transaction_id="T1").merchant_code == NAMES
    assert sorted(Transaction.objects.values_list("type", flat=True)) == ["cancel", "charge", "payment"]
    assert "加盟店名" in err  # the unknown column is named in a warning
    assert ImportBatch.objects.get().warnings


def test_a_file_that_is_neither_utf8_nor_cp932_is_refused_with_an_encoding_error(tmp_path, in_campaign):
    path = tmp_path / "latin.csv"
    path.write_bytes(f"{HEADER}\nT1,M1,payment,500,,Caf\xe9 \xff,2026-03-06 07:30,,\n".encode("latin-1"))
    with pytest.raises(CommandError, match="encoding"):
        run(path)
    assert Transaction.objects.count() == 0
    assert ImportBatch.objects.get().status == ImportStatus.REFUSED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "header"),
        (b"transaction_id,member_id,type,amount\nT1,M1,payment,5\n", "occurred_at"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "xls"),
        (b"PK\x03\x04 not really a zip", "XLSX"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        (b"transaction_id,transaction_id,member_id,type,amount,occurred_at\n", "twice"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(tmp_path, in_campaign, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=f"(?i){message}"):
        run(path)
    assert Transaction.objects.count() == 0


def test_headers_with_full_width_letters_spaces_or_capitals_are_recognised(tmp_path, in_campaign):
    header = "取引ＩＤ, 会員ID ,Type,AMOUNT,加盟店コード,Occurred At"
    out, err = run(write(tmp_path, f"{header}\nT1,M1,支払,500,S1,2026-03-06 07:30\n"))
    assert summary(out) == "rows=1 accepted=1 duplicates=0 rejected=0"
    assert err.count("warning") == 0


def test_a_missing_required_column_is_named(tmp_path, in_campaign):
    with pytest.raises(CommandError, match="member_id"):
        run(write(tmp_path, "transaction_id,type,amount,occurred_at\nT1,charge,5,2026-03-06 07:30\n"))


def test_a_bad_row_in_the_middle_is_reported_and_the_rest_imported(tmp_path, in_campaign):
    rows = [f"T{i},M{i},payment,500,,S1,2026-03-06 07:30:00,," for i in range(1, 6)]
    rows[2] = "T3,M3,payment,-500,,S1,2026-03-06 07:30:00,,"
    out, _err = run(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert summary(out) == "rows=5 accepted=4 duplicates=0 rejected=1"
    assert "line 4: T3: amount '-500' is negative" in out
    rejection = ImportRejection.objects.get()
    assert (rejection.line, rejection.transaction_id) == (4, "T3")
    assert rejection.raw["amount"] == "-500"
    assert not Transaction.objects.filter(transaction_id="T3").exists()


def test_reimporting_a_file_changes_nothing(tmp_path, in_campaign):
    path = write(
        tmp_path,
        f"{HEADER}\nT1,M1,payment,500,,S1,2026-03-06 07:30:00,,\nT2,M1,payment,x,,S1,2026-03-06 07:30:00,,\n",
    )
    first, _ = run(path)
    stored = list(Transaction.objects.values_list("transaction_id", "amount", "received_at", "import_batch_id"))
    second, err = run(path)
    assert summary(first) == "rows=2 accepted=1 duplicates=0 rejected=1"
    assert summary(second) == "rows=2 accepted=0 duplicates=1 rejected=1"
    assert "already imported" in err
    assert list(Transaction.objects.values_list("transaction_id", "amount", "received_at", "import_batch_id")) == stored
    with translation.override("ja"):
        _out, err = run(path)
    earlier = ImportBatch.objects.order_by("-pk")[1]  # the latest import before this one
    when = f"{localtime(earlier.created_at):%Y-%m-%d %H:%M}"
    assert err.startswith(f"このファイルは {when} に #{earlier.pk} として取込済みです。")


def test_duplicates_and_conflicts_inside_a_file_and_against_the_store(tmp_path, in_campaign):
    TransactionFactory(transaction_id="OLD", amount=700, occurred_at=jst("2026-03-06 07:30"), merchant_code="S1")
    out, _ = run(
        write(
            tmp_path,
            f"{HEADER}\n"
            "T1,M1,payment,500,,S1,2026-03-06 07:30:00,,\n"
            "T1,M1,payment,500,,S1,2026-03-05T22:30:00Z,,\n"  # the same content, written otherwise
            "T1,M1,payment,501,,S1,2026-03-06 07:30:00,,\n"
            "OLD,M0000000,payment,999,,S1,2026-03-06 07:30:00,,\n",
        )
    )
    assert summary(out) == "rows=4 accepted=1 duplicates=1 rejected=2"
    assert "line 4: T1:" in out and "different content" in out
    assert Transaction.objects.get(transaction_id="T1").amount == 500
    assert Transaction.objects.get(transaction_id="OLD").amount == 700
    assert sorted(ImportRejection.objects.values_list("line", flat=True)) == [4, 5]


RULES = [
    ("T1,M1,refund,500,,S1,2026-03-06 07:30,,", "type"),
    (",M1,payment,500,,S1,2026-03-06 07:30,,", "transaction_id"),
    ("T" + "x" * 64 + ",M1,payment,500,,S1,2026-03-06 07:30,,", "transaction_id"),
    ("T1,,payment,500,,S1,2026-03-06 07:30,,", "member_id"),
    ("T1,M1,payment,,,S1,2026-03-06 07:30,,", "amount"),
    ("T1,M1,payment,5.5,,S1,2026-03-06 07:30,,", "amount"),
    ("T1,M1,payment,1.000,,S1,2026-03-06 07:30,,", "amount"),
    ('T1,M1,payment,"1,00",,S1,2026-03-06 07:30,,', "amount"),
    ("T1,M1,payment,500円,,S1,2026-03-06 07:30,,", "amount"),
    ("T1,M1,payment,500,600,S1,2026-03-06 07:30,,", "points_used"),
    ("T1,M1,payment,500,-1,S1,2026-03-06 07:30,,", "points_used"),
    ("T1,M1,charge,500,100,,2026-03-06 07:30,,", "points_used"),
    ("T1,M1,payment,500,,,2026-03-06 07:30,,", "merchant_code"),
    ("T1,M1,charge,500,,S1,2026-03-06 07:30,,", "merchant_code"),
    ("T1,M1,payment,500,,S1,2026-03-06,,", "occurred_at"),
    ("T1,M1,payment,500,,S1,06/03/2026 07:30,,", "occurred_at"),
    ("T1,M1,payment,500,,S1,2026-02-13 07:30,,", "occurred_at"),
    ("T1,M1,payment,500,,S1,2026-04-01 00:00,,", "occurred_at"),
    ("T1,M1,payment,500,,S1,2026-03-15 12:06,,", "occurred_at"),  # in the future of the clock (12:00)
    ("T1,M1,cancel,500,,,2026-03-06 07:30,,", "original_transaction_id"),
    ("T1,M1,cancel,500,,,2026-03-06 07:30,T1,", "original_transaction_id"),
    ("T1,M1,payment,500,,S1,2026-03-06 07:30,T0,", "original_transaction_id"),
    ("T1,M1,charge,500,,,2026-03-06 07:30,,paypay", "charge_method"),
    ("T1,M1,payment,500,,S1,2026-03-06 07:30,,card", "charge_method"),
    ("T1,M1,payment,500,,S1,2026-03-06 07:30,,,extra", "fields"),
]


@pytest.mark.parametrize(("row", "column"), RULES)
def test_each_rule_rejects_a_row_naming_the_column(tmp_path, in_campaign, row, column):
    out, _ = run(write(tmp_path, f"{HEADER}\n{row}\n"))
    assert summary(out) == "rows=1 accepted=0 duplicates=0 rejected=1"
    reason = ImportRejection.objects.get().reason
    assert column in reason, reason
    assert Transaction.objects.count() == 0


def test_a_payment_in_the_skew_of_the_clock_and_a_late_cancel_are_accepted(tmp_path, in_campaign):
    out, _ = run(
        write(
            tmp_path,
            f"{HEADER}\nT1,M1,payment,500,,S1,2026-03-15 12:04:00,,\nX1,M1,cancel,500,,,2026-03-15 12:01:00,T0,\n",
        )
    )
    assert summary(out) == "rows=2 accepted=2 duplicates=0 rejected=0"


def test_after_the_cutoff_every_row_is_refused_with_that_reason(tmp_path, campaign, clock):
    clock("2026-04-11T00:00:01+09:00")
    out, _ = run(write(tmp_path, f"{HEADER}\nT1,M1,payment,500,,S1,2026-03-06 07:30,,\n"))
    assert summary(out) == "rows=1 accepted=0 duplicates=0 rejected=1"
    assert "after the data cut-off" in out


def test_blank_lines_and_quoted_newlines_keep_line_numbers_right(tmp_path, in_campaign):
    text = (
        f'{HEADER}\n\nT1,M1,payment,500,,"S\n1",2026-03-06 07:30,,\nT2,M1,payment,x,,S1,2026-03-06 07:30,,\n'
        "T3,M1,payment,500,,S1,2026-03-06 07:30,,\n"
    )
    out, _ = run(write(tmp_path, text))
    assert summary(out) == "rows=3 accepted=1 duplicates=0 rejected=2"
    rejected = dict(ImportRejection.objects.values_list("transaction_id", "line"))
    assert rejected == {"T1": 3, "T2": 5}  # T1's quoted line break is one row (and no merchant code holds one)


def test_an_xlsx_file_is_read_with_japanese_headers_and_typed_cells(tmp_path, in_campaign):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["取引ID", "会員ID", "取引種別", "金額", "ポイント利用額", "加盟店コード", "取引日時", "備考"])
    sheet.append(["T1", "M1", "支払", 1200, 200, NAMES, datetime(2026, 3, 6, 7, 30), "memo"])
    sheet.append(["T2", "M1", "チャージ", "10,000", None, None, "2026/03/06 8:00:00", None])
    sheet.append(["T3", "M1", "支払", 12.5, None, "S1", datetime(2026, 3, 6, 9, 0), None])
    sheet.append([None, None, None, None, None, None, None, None])
    path = tmp_path / "tx.xlsx"
    workbook.save(path)
    out, err = run(path)
    assert summary(out) == "rows=3 accepted=2 duplicates=0 rejected=1"
    t1 = Transaction.objects.get(transaction_id="T1")
    assert (t1.amount, t1.points_used, t1.merchant_code, t1.occurred_at) == (1200, 200, NAMES, jst("2026-03-06 07:30"))
    assert "line 4: T3" in out
    assert "備考" in err


def test_an_xlsx_that_inflates_like_a_bomb_is_refused(tmp_path, in_campaign):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (12 * 1024 * 1024))
    with pytest.raises(CommandError, match="unsafe"):
        run(path)


def test_a_tab_separated_file_is_read(tmp_path, in_campaign):
    out, _ = run(write(tmp_path, HEADER.replace(",", "\t") + "\nT1\tM1\tpayment\t500\t\tS1\t2026-03-06 07:30\t\t\n"))
    assert summary(out) == "rows=1 accepted=1 duplicates=0 rejected=0"


def test_the_import_scores_the_members_it_touches(tmp_path, in_campaign):
    from missions.models import Stamp
    from tests.campaign.factories import EntryFactory, MemberFactory

    EntryFactory(member=MemberFactory(member_id="M1"))
    run(write(tmp_path, f"{HEADER}\nT1,M1,charge,100000,,,2026-03-06 07:30,,bank\n"))
    cleared = set(Stamp.objects.filter(member_id="M1", cleared=True).values_list("mission__code", flat=True))
    assert {"casual-1", "mania-7", "mania-9", "mania-10"} <= cleared


def test_every_member_of_a_file_of_new_rows_is_scored_and_nothing_is_left_behind(tmp_path, in_campaign):
    from django.db import connection

    from missions.models import StampCard

    rows = "".join(f"T{n},M{n},charge,1000,,,2026-03-06 07:30,,bank\n" for n in range(1, 6))
    out, _ = run(write(tmp_path, f"{HEADER}\n{rows}"))
    assert summary(out) == "rows=5 accepted=5 duplicates=0 rejected=0"
    assert set(StampCard.objects.values_list("member_id", flat=True)) == {f"M{n}" for n in range(1, 6)}
    if connection.vendor == "postgresql":  # the members kept for the scoring are dropped with it
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('import_touched')")
            assert cursor.fetchone()[0] is None


def test_a_file_with_a_stored_row_scores_the_members_of_its_new_rows(tmp_path, in_campaign):
    from missions.models import StampCard

    run(write(tmp_path, f"{HEADER}\nT1,M1,charge,1000,,,2026-03-06 07:30,,bank\n", name="first.csv"))
    StampCard.objects.all().delete()
    second = f"{HEADER}\nT1,M1,charge,1000,,,2026-03-06 07:30,,bank\nT2,M2,charge,1000,,,2026-03-06 08:30,,bank\n"
    out, _ = run(write(tmp_path, second, name="second.csv"))
    assert summary(out) == "rows=2 accepted=1 duplicates=1 rejected=0"
    assert set(StampCard.objects.values_list("member_id", flat=True)) == {"M2"}


def test_a_cancel_dated_before_the_year_1_in_utc_is_one_rejected_row(tmp_path, in_campaign):
    path = write(
        tmp_path,
        f"{JA_HEADER}\r\nT1,M1,チャージ,1000,,,2026-03-06 07:30:00,,\r\nX1,M1,取消,,,,0001-01-01 00:00:00,T1,\r\n",
        encoding="cp932",
    )
    out, _err = run(path)
    assert summary(out) == "rows=2 accepted=1 duplicates=0 rejected=1"
    assert "line 3: X1: occurred_at 0001-01-01T00:00:00+09:00 is before the year 1 in UTC" in out
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == ["T1"]


def test_a_cancel_in_a_file_with_another_member_id_withdraws_the_originals_stamps(tmp_path, in_campaign):
    from campaign.models import Entry, Member
    from missions.models import LedgerLine

    at = jst("2026-03-03 10:00")
    Entry.objects.create(
        campaign=in_campaign, member=Member.objects.create(member_id="M1"), entered_at=at, received_at=at
    )
    run(write(tmp_path, f"{HEADER}\nT1,M1,charge,100000,,,2026-03-06 07:30:00,,\n", name="a.csv"))
    assert sum(LedgerLine.objects.filter(member_id="M1").values_list("points", flat=True)) > 0
    run(write(tmp_path, f"{HEADER}\nX1,M2,cancel,,,,2026-03-07 07:30:00,T1,\n", name="b.csv"))
    assert sum(LedgerLine.objects.filter(member_id="M1").values_list("points", flat=True)) == 0


def test_a_byte_invalid_in_cp932_is_refused_with_the_line_that_holds_it(tmp_path, in_campaign):
    rows = [f"T{i},M1,支払,500,,S1,2026-03-06 07:30,," for i in range(1, 6)]
    data = "\r\n".join([JA_HEADER, *rows]).encode("cp932").replace(b"T4,", b"T4\x81\x7f,") + b"\r\n"
    path = tmp_path / "tx.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="Line 5 holds bytes"):
        run(path)
    assert Transaction.objects.count() == 0


def test_in_japanese_a_reason_names_the_column_as_a_japanese_header_does_too(tmp_path, in_campaign):
    """Staff read the report beside a file headed 金額: the reason says amount（金額）, not amount alone."""
    from django.utils import translation

    rows = f"{JA_HEADER}\r\nT1,M1,支払,abc,,S1,2026-03-06 07:30,,\r\nT2,M1,支払,-5,,S1,2026-03-06 07:31,,\r\n"
    with translation.override("ja"):
        run(write(tmp_path, rows, encoding="cp932"))
        short = f"{JA_HEADER.replace(',取引種別', '')}\r\nT1,M1,500,,S1,2026-03-06 07:30,,\r\n"
        with pytest.raises(CommandError, match=r"type（取引種別）"):
            run(write(tmp_path, short, encoding="cp932", name="short.csv"))
    reasons = dict(ImportRejection.objects.values_list("transaction_id", "reason"))
    assert reasons["T1"].startswith("amount（金額） の値 'abc'")
    assert reasons["T2"].startswith("amount（金額） の値 '-5' が負の数です")
    run(write(tmp_path, rows.replace("T1", "E1").replace("T2", "E2"), encoding="cp932", name="english.csv"))
    assert ImportRejection.objects.get(transaction_id="E1").reason.startswith("amount 'abc' is not a number")


def test_a_quote_never_closed_rejects_its_line_and_the_lines_after_it_are_read_as_rows(tmp_path, in_campaign):
    """An opened quote used to run its row on to the next quote of the file: the rows between vanished
    inside one rejected row, uncounted. Now its line alone is rejected and the others are read as rows."""
    text = (
        f"{HEADER}\r\n"
        'T1,M1,payment,"1,500,,S1,2026-03-06 07:30,,\r\n'
        "T2,M1,payment,500,,S1,2026-03-06 07:31,,\r\n"
        'T3,M1,payment,"2,000",,"S\n1",2026-03-06 07:32,,\r\n'
        "T4,M1,payment,x,,S1,2026-03-06 07:33,,\r\n"
    )
    out, _err = run(write(tmp_path, text))
    assert summary(out) == "rows=4 accepted=1 duplicates=0 rejected=3"
    assert list(Transaction.objects.values_list("transaction_id", "amount")) == [("T2", 500)]
    rejected = {r.line: r for r in ImportRejection.objects.all()}
    assert sorted(rejected) == [2, 4, 6]  # T3, over lines 4 and 5 with its quoted line break, is one row
    assert "merchant_code" in rejected[4].reason
    assert rejected[2].transaction_id == "T1"
    assert 'opens a quote (") that is never closed' in rejected[2].reason
    assert rejected[6].transaction_id == "T4"


@pytest.mark.parametrize("code", ["S\x071", "S\u202e1-EBOK", "S\x1b[31m1"])
def test_a_merchant_code_with_a_control_or_bidi_character_is_one_rejected_row(tmp_path, in_campaign, code):
    """A bidi override would show the code reversed in the back office and the exports."""
    text = f"{HEADER}\nT1,M1,payment,500,,{code},2026-03-06 07:30,,\nT2,M1,payment,500,,S1,2026-03-06 07:30,,\n"
    out, _ = run(write(tmp_path, text))
    assert summary(out) == "rows=2 accepted=1 duplicates=0 rejected=1"
    assert "merchant_code" in ImportRejection.objects.get(transaction_id="T1").reason


def test_a_quote_never_closed_before_the_end_of_the_file_loses_none_of_the_rows_after_it(tmp_path, in_campaign):
    text = (
        f"{JA_HEADER}\r\n"
        'U1,M1,支払,"2,000,,S1,2026/03/05 7:31:00,,\r\n'
        "U2,M1,支払,abc,,S1,2026/03/05 7:32:00,,\r\n"
        "U3,M1,チャージ,3000,,,2026/03/05 7:33:00,,card\r\n"
    )
    out, _err = run(write(tmp_path, text, encoding="cp932"))
    assert summary(out) == "rows=3 accepted=1 duplicates=0 rejected=2"
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == ["U3"]
    assert dict(ImportRejection.objects.values_list("transaction_id", "line")) == {"U1": 2, "U2": 3}


def test_a_formula_whose_value_was_never_saved_is_one_rejected_row_that_says_so(tmp_path, in_campaign):
    """A program writes formulas without their values (openpyxl does); read as empty cells, the row was rejected
    as "amount is required", or taken with no points used, while the staff member saw a formula there."""
    openpyxl = pytest.importorskip("openpyxl")

    def workbook_of(*rows):
        workbook = openpyxl.Workbook()
        workbook.active.append(["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code"])
        workbook.active["G1"], workbook.active["H1"] = "occurred_at", "memo"
        for row in rows:
            workbook.active.append(row)
        path = tmp_path / f"formulas-{len(rows)}.xlsx"
        workbook.save(path)
        return path

    out, _err = run(
        workbook_of(
            ["T1", "M1", "payment", "=200*3", None, "S1", "2026-03-06 07:30:00"],
            ["T2", "M1", "payment", 500, "=D2/10", "S1", "2026-03-06 07:31:00"],
            ["T3", "M1", "payment", 700, None, "S1", "2026-03-06 07:32:00", "=A1"],  # an ignored column
            ["T4", "M1", "payment", 800, None, "S1", "2026-03-06 07:33:00"],
        )
    )
    assert summary(out) == "rows=4 accepted=2 duplicates=0 rejected=2"
    assert sorted(Transaction.objects.values_list("transaction_id", flat=True)) == ["T3", "T4"]
    reasons = dict(ImportRejection.objects.values_list("line", "reason"))
    assert reasons[2] == (
        "amount holds a formula whose value was never saved (a file written by a program, not by a spreadsheet "
        "application): open the file in Excel and save it, or export it as CSV, and import it again."
    )
    assert reasons[3].startswith("points_used holds a formula whose value was never saved")
    with translation.override("ja"):
        run(workbook_of(["J1", "M1", "payment", "=200*3", None, "S1", "2026-03-06 07:30:00"]))
    assert ImportRejection.objects.get(transaction_id="J1").reason.startswith("amount（金額） のセルは数式で")


def _xlsx_rewritten(tmp_path, rows, old: bytes, new: bytes):
    """An XLSX of ``rows`` (header first) with ``old`` replaced by ``new`` in its sheet XML."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(tmp_path / "written.xlsx")
    path = tmp_path / "rewritten.xlsx"
    with zipfile.ZipFile(tmp_path / "written.xlsx") as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                assert old in data
                data = data.replace(old, new)
            target.writestr(item, data)
    return path


def test_a_formula_saved_with_an_empty_text_result_reads_as_an_empty_cell(tmp_path, in_campaign):
    """Excel saves a formula's empty text as <v></v> in a cell typed "str": that is a value, saved."""
    header = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
    path = _xlsx_rewritten(
        tmp_path,
        [header, ["T1", "M1", "payment", '=""', None, "S1", "2026-03-06 07:30:00"]],
        b'<c r="D2"><f>""</f><v /></c>',
        b'<c r="D2" t="str"><f>""</f><v></v></c>',
    )
    out, _err = run(path)
    assert summary(out) == "rows=1 accepted=0 duplicates=0 rejected=1"
    assert ImportRejection.objects.get().reason == "amount is required."


def test_an_xlsx_whose_stated_dimension_is_smaller_than_its_rows_loses_none_of_them(tmp_path, in_campaign):
    """openpyxl's read-only rows stop at the sheet's <dimension>, which a program may leave stale: the rows
    after it were neither imported nor rejected nor counted."""
    header = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
    rows = [[f"T{n}", "M1", "payment", 500, None, "S1", "2026-03-06 07:30:00"] for n in range(4)]
    path = _xlsx_rewritten(tmp_path, [header, *rows], b'<dimension ref="A1:G5"', b'<dimension ref="A1:G2"')
    out, _err = run(path)
    assert summary(out) == "rows=4 accepted=4 duplicates=0 rejected=0"
