"""Reading transaction files (SPEC 3.1): format and encoding detection, headers, row validation.

A file is read as a stream of rows; nothing here touches the database, so the same checks
serve the file import and the system API (``campaign.ingest``). The row check is the
importer's hot loop (a million rows a file), so it works on plain strings with ``str``
methods and ``datetime.fromisoformat`` rather than regular expressions or forms.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import operator
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from django.utils.translation import gettext as _

from campaign.env import JST

MAX_ID = 64
MAX_AMOUNT = 10**12
# An XLSX is a zip: refuse one whose parts inflate beyond these (a decompression bomb).
XLSX_MAX_UNCOMPRESSED = 4 * 1024**3
XLSX_MAX_RATIO = 200
_CHUNK = 1024 * 1024

# The columns of SPEC 3.1, in the order the normalized record keeps them.
COLUMNS = (
    "transaction_id",
    "member_id",
    "type",
    "amount",
    "points_used",
    "merchant_code",
    "occurred_at",
    "original_transaction_id",
    "charge_method",
)
REQUIRED_COLUMNS = ("transaction_id", "member_id", "type", "amount", "occurred_at")
JAPANESE_COLUMNS = {
    "取引ID": "transaction_id",
    "会員ID": "member_id",
    "取引種別": "type",
    "金額": "amount",
    "ポイント利用額": "points_used",
    "加盟店コード": "merchant_code",
    "取引日時": "occurred_at",
    "元取引ID": "original_transaction_id",
    "チャージ方法": "charge_method",
}
TYPES = {
    "charge": "charge",
    "payment": "payment",
    "cancel": "cancel",
    "チャージ": "charge",
    "支払": "payment",
    "支払い": "payment",
    "取消": "cancel",
    "取消し": "cancel",
}
CHARGE_METHODS = {"card", "jwest_card", "seven_atm", "bank"}
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+$")
_LOOSE_TIME = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?$")


class FileRefused(Exception):
    """The file cannot be read at all; nothing of it is imported (SPEC 3.1)."""


class Record(NamedTuple):
    """A valid transaction, normalized: what is stored and what duplicates are compared on."""

    transaction_id: str
    member_id: str
    type: str
    amount: int
    points_used: int
    merchant_code: str
    occurred_at: datetime
    original_transaction_id: str
    charge_method: str

    def content(self) -> tuple:
        """Everything but the id, with the time in UTC: equal content means a duplicate."""
        return (*self[1:6], self.occurred_at.astimezone(UTC), *self[7:])


@dataclass
class Window:
    """What R9 judges a record against: the campaign period, the portal's clock and the cut-off."""

    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    now: datetime
    skew: timedelta

    @property
    def latest(self) -> datetime:
        return self.now + self.skew


@dataclass
class Header:
    """Where each known column is in the file's rows, and what the header said otherwise."""

    names: list[str]
    index: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def picker(self):
        """A function that takes COLUMNS from a full-width row with one "" appended (missing columns)."""
        width = len(self.names)
        return operator.itemgetter(*(self.index.get(column, width) for column in COLUMNS))


# --- values -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _yen(raw: Any, column: str, errors: dict[str, list[str]]) -> int | None:
    """Whole yen ≥ 0 from ``1000``, ``"1000"`` or ``"1,000"``; None (with an error) otherwise."""
    if type(raw) is int:
        value = raw
    elif isinstance(raw, float) and not isinstance(raw, bool):
        if not raw.is_integer():
            errors.setdefault(column, []).append(
                _("%(column)s %(value)s is not whole yen: decimals are not allowed.") % {"column": column, "value": raw}
            )
            return None
        value = int(raw)
    else:
        text = _text(raw)
        digits = text
        if "," in text:
            digits = text.replace(",", "") if _GROUPED.match(text) else "x"
        if digits.isascii() and digits.isdigit():
            value = int(digits)
        else:
            if text.startswith("-") and text[1:].replace(",", "").replace(".", "").isdigit():
                message = _("%(column)s %(value)r is negative: it must be whole yen, 0 or more.")
            elif text.replace(",", "").replace(".", "", 1).isdigit() and text.isascii():
                message = _("%(column)s %(value)r is not whole yen: decimals are not allowed.")
            else:
                message = _("%(column)s %(value)r is not a number of yen (write 1000 or 1,000).")
            errors.setdefault(column, []).append(message % {"column": column, "value": text})
            return None
    if value < 0:
        errors.setdefault(column, []).append(
            _("%(column)s %(value)r is negative: it must be whole yen, 0 or more.") % {"column": column, "value": value}
        )
        return None
    if value > MAX_AMOUNT:
        errors.setdefault(column, []).append(
            _("%(column)s %(value)r is too large.") % {"column": column, "value": value}
        )
        return None
    return value


def parse_time(raw: Any) -> datetime | None:
    """A time of SPEC 3.1 as an aware datetime; a time without an offset is JST. None if unreadable."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=JST)
    if isinstance(raw, date) or not isinstance(raw, str):
        return None
    text = raw.strip()
    if ":" not in text and "T" not in text:  # a date alone is not a time
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        match = _LOOSE_TIME.match(text)
        if match is None:
            return None
        year, month, day, hour, minute, second, fraction = match.groups()
        try:
            parsed = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                int((fraction or ".0")[1:].ljust(6, "0")),
            )
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=JST)
    return parsed


def _error(errors: dict[str, list[str]], column: str, message: str) -> None:
    errors.setdefault(column, []).append(message)


def record_check(values: tuple | list, window: Window) -> tuple[Record | None, dict[str, list[str]]]:
    """Check one row given as the values of COLUMNS, in that order (missing: "" or None).

    Returns the normalized record, or None and the errors by column: clear sentences that
    name the column and the bad value, one list per column as the API answers them.
    """
    raw_tid, raw_mid, raw_type, raw_amount, raw_points, raw_merchant, raw_time, raw_original, raw_method = values
    errors: dict[str, list[str]] = {}

    tid = raw_tid.strip() if type(raw_tid) is str else _text(raw_tid)
    if not tid or len(tid) > MAX_ID:
        _error(errors, "transaction_id", _("transaction_id %(value)r must be 1 to 64 characters.") % {"value": tid})
    mid = raw_mid.strip() if type(raw_mid) is str else _text(raw_mid)
    if not mid or len(mid) > MAX_ID or not mid.isascii() or not mid.isprintable() or " " in mid:
        _error(
            errors,
            "member_id",
            _("member_id %(value)r must be 1 to 64 letters, digits or symbols, without spaces.") % {"value": mid},
        )
    type_text = raw_type.strip() if type(raw_type) is str else _text(raw_type)
    kind = TYPES.get(type_text) or TYPES.get(type_text.lower())
    if kind is None:
        _error(
            errors,
            "type",
            _("type %(value)r is not one of charge, payment, cancel (チャージ, 支払, 取消).") % {"value": type_text},
        )

    if kind == "cancel" and _text(raw_amount) == "":
        amount = 0
    elif _text(raw_amount) == "":
        amount = None
        _error(errors, "amount", _("amount is required."))
    else:
        amount = _yen(raw_amount, "amount", errors)

    points = 0 if (raw_points is None or raw_points == "") else _yen(raw_points, "points_used", errors)
    if points:
        if kind == "charge":
            _error(
                errors,
                "points_used",
                _("points_used %(value)r is only for payments: a charge uses no points.") % {"value": points},
            )
        elif amount is not None and points > amount:
            _error(
                errors,
                "points_used",
                _("points_used %(points)r is more than the amount %(amount)r.") % {"points": points, "amount": amount},
            )

    merchant = raw_merchant.strip() if type(raw_merchant) is str else _text(raw_merchant)
    if kind == "payment" and not merchant:
        _error(errors, "merchant_code", _("merchant_code is required for a payment."))
    elif kind == "charge" and merchant:
        _error(errors, "merchant_code", _("merchant_code %(value)r must be empty for a charge.") % {"value": merchant})
    elif len(merchant) > MAX_ID:
        _error(
            errors, "merchant_code", _("merchant_code %(value)r is longer than 64 characters.") % {"value": merchant}
        )

    original = raw_original.strip() if type(raw_original) is str else _text(raw_original)
    if kind == "cancel":
        if not original:
            _error(errors, "original_transaction_id", _("original_transaction_id is required for a cancel."))
        elif len(original) > MAX_ID:
            _error(
                errors,
                "original_transaction_id",
                _("original_transaction_id %(value)r is longer than 64 characters.") % {"value": original},
            )
        elif original == tid:
            _error(
                errors,
                "original_transaction_id",
                _("original_transaction_id %(value)r names the cancel itself.") % {"value": original},
            )
    elif original and kind is not None:
        _error(
            errors,
            "original_transaction_id",
            _("original_transaction_id %(value)r is only for cancels.") % {"value": original},
        )

    method = raw_method.strip() if type(raw_method) is str else _text(raw_method)
    if method:
        method = method.lower()
        if method not in CHARGE_METHODS:
            _error(
                errors,
                "charge_method",
                _("charge_method %(value)r is not one of card, jwest_card, seven_atm, bank.") % {"value": method},
            )
        elif kind == "payment":
            _error(errors, "charge_method", _("charge_method %(value)r is only for charges.") % {"value": method})

    occurred = parse_time(raw_time)
    if occurred is None:
        _error(
            errors,
            "occurred_at",
            _(
                "occurred_at %(value)r is not a time such as 2026-03-06T07:30:00+09:00, "
                "2026-03-06 07:30:00 or 2026/03/06 7:30:00."
            )
            % {"value": _text(raw_time)},
        )
    else:
        # R9: judged on the portal's clock; a cancel counts whatever its own time, but not from the future.
        if window.now > window.cutoff_at:
            _error(
                errors,
                "non_field_errors",
                _("Received after the data cut-off (%(cutoff)s): records are no longer accepted.")
                % {"cutoff": window.cutoff_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")},
            )
        elif occurred > window.latest:
            _error(
                errors, "occurred_at", _("occurred_at %(value)s is in the future.") % {"value": occurred.isoformat()}
            )
        elif kind != "cancel" and not (window.starts_at <= occurred < window.ends_at):
            _error(
                errors,
                "occurred_at",
                _("occurred_at %(value)s is outside the campaign period.") % {"value": occurred.isoformat()},
            )

    if errors:
        return None, errors
    return Record(tid, mid, kind, amount, points, merchant, occurred, original, method), errors


def record_fast(values: tuple, window: Window) -> Record | None:
    """``record_check`` for the common case, about five times faster: a CSV row of plain,
    well-formed strings. None means "not sure": the caller then asks ``record_check``,
    which accepts what this is too strict for (``"1,000"``, spaces, upper case) and
    explains what is wrong, so the two never disagree on a record they both accept.
    """
    tid, mid, type_text, amount_text, points_text, merchant, when, original, method = values
    kind = TYPES.get(type_text)
    if kind is None or not amount_text.isdigit() or not amount_text.isascii():
        return None
    tid = tid.strip()
    mid = mid.strip()
    if not (0 < len(tid) <= MAX_ID and 0 < len(mid) <= MAX_ID and mid.isascii() and mid.isprintable()) or " " in mid:
        return None
    amount = int(amount_text)
    if points_text:
        if not points_text.isdigit() or not points_text.isascii():
            return None
        points = int(points_text)
    else:
        points = 0
    if amount > MAX_AMOUNT or points > amount:
        return None
    merchant = merchant.strip()
    original = original.strip()
    if kind == "payment":
        if not merchant or len(merchant) > MAX_ID or method or original:
            return None
    elif kind == "charge":
        if merchant or points or original or (method and method not in CHARGE_METHODS):
            return None
    elif (
        not original
        or original == tid
        or len(original) > MAX_ID
        or len(merchant) > MAX_ID
        or (method and method not in CHARGE_METHODS)
    ):
        return None
    if len(when) <= 10:
        return None
    try:
        occurred = datetime.fromisoformat(when)
    except ValueError:
        return None
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=JST)
    if window.now > window.cutoff_at or occurred > window.latest:
        return None
    if kind != "cancel" and not (window.starts_at <= occurred < window.ends_at):
        return None
    return Record(tid, mid, kind, amount, points, merchant, occurred, original, method)


def errors_reason(errors: dict[str, list[str]]) -> str:
    """The errors of a row as one sentence list, for the import report."""
    return " ".join(message for messages in errors.values() for message in messages)


# --- files --------------------------------------------------------------------------------


def header_read(names: list[Any]) -> Header:
    """Map a header row to COLUMNS; refuse it when a required column is missing or repeated."""
    cleaned = [_text(name).lstrip("\ufeff").strip() for name in names]
    if not any(cleaned):
        raise FileRefused(_("The file has no header row: the first line must name the columns."))
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, name in enumerate(cleaned):
        if not name:
            continue
        # NFKC: a header typed with full-width letters (取引ＩＤ) or spaces still names its column.
        plain = unicodedata.normalize("NFKC", name).strip()
        key = plain.lower().replace(" ", "_").replace("-", "_")
        column = key if key in COLUMNS else JAPANESE_COLUMNS.get(plain.replace(" ", ""))
        if column is None:
            unknown.append(name)
            continue
        if column in index:
            raise FileRefused(_("The column %(column)s appears twice in the header.") % {"column": column})
        index[column] = position
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if missing:
        raise FileRefused(
            _("The required column %(columns)s is missing from the header (found: %(found)s).")
            % {"columns": ", ".join(missing), "found": ", ".join(name for name in cleaned if name) or "-"}
        )
    warnings = [
        _("The column %(name)r is not a transaction column and was ignored.") % {"name": name} for name in unknown
    ]
    return Header(names=cleaned, index=index, warnings=warnings)


@dataclass
class RowSource:
    """The rows of a file: ``header`` once known, then ``rows()`` yields (line, values)."""

    path: Path
    kind: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ","
    approx_rows: int = 0
    header: Header | None = None

    def rows(self) -> Iterator[tuple[int, list]]:
        if self.kind == "xlsx":
            return self._xlsx_rows()
        return self._csv_rows()

    def header_check(self) -> Header:
        """Read the header now, so that a file without one is refused before any row is handled."""
        rows = self.rows()
        try:
            next(rows, None)
        finally:
            rows.close()
        if self.header is None:
            raise FileRefused(_("The file is empty: it has no header row."))
        return self.header

    def _csv_rows(self) -> Iterator[tuple[int, list]]:
        with self.path.open(encoding=self.encoding, newline="", errors="strict") as stream:
            reader = csv.reader(stream, delimiter=self.delimiter)
            with _csv_refused(lambda: reader.line_num):
                _csv_header(self, reader)
                previous = reader.line_num
                for values in reader:
                    line = previous + 1
                    previous = reader.line_num
                    yield line, values

    def _xlsx_rows(self) -> Iterator[tuple[int, list]]:
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            raise FileRefused(_("The XLSX file cannot be read: %(error)s.") % {"error": exc}) from None
        try:
            sheet = workbook.worksheets[0] if workbook.worksheets else None
            if sheet is None:
                raise FileRefused(_("The XLSX file has no sheet."))
            rows = sheet.iter_rows(values_only=True)
            try:
                names = next(rows, None)
                if names is None:
                    raise FileRefused(_("The file is empty: it has no header row."))
                self.header = header_read(list(names))
                for line, values in enumerate(rows, start=2):
                    yield line, list(values)
            except FileRefused:
                raise
            except Exception as exc:
                raise FileRefused(_("The XLSX file cannot be read: %(error)s.") % {"error": exc}) from None
        finally:
            workbook.close()


def _xlsx_check(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRefused(_("The file looks like XLSX but is not a readable workbook.")) from None
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 10 * 1024**2 and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
            raise FileRefused(_("The XLSX file inflates far beyond its size; it is refused as unsafe."))
    if total > XLSX_MAX_UNCOMPRESSED:
        raise FileRefused(_("The XLSX file is too large once unpacked; split it or save it as CSV."))


def _encoding_detect(path: Path) -> tuple[str, int, bytes]:
    """Decode the whole file strictly as UTF-8, else CP932; also count its lines (for the progress bar)."""
    for encoding in ("utf-8-sig", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        lines = 0
        first = b""
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    if not first:
                        first = chunk[:4096]
                    if b"\x00" in chunk:
                        raise FileRefused(
                            _("The file contains binary data (NUL bytes): it is not a CSV in UTF-8 or CP932.")
                        )
                    decoder.decode(chunk)
                    lines += chunk.count(b"\n")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return ("utf-8-sig" if encoding == "utf-8-sig" else "cp932"), lines, first
    raise FileRefused(_("Cannot read the file's encoding: it is neither UTF-8 nor CP932 (Shift_JIS)."))


def file_open(path: str | Path) -> RowSource:
    """Detect the file's format and encoding; refuse what is neither CSV (UTF-8/CP932) nor XLSX."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            magic = stream.read(8)
    except OSError as exc:
        raise FileRefused(_("The file cannot be opened: %(error)s.") % {"error": exc.strerror or exc}) from None
    if not magic:
        raise FileRefused(_("The file is empty: it has no header row."))
    if magic.startswith(b"PK\x03\x04"):
        _xlsx_check(path)
        source = RowSource(path=path, kind="xlsx")
        source.header_check()
        return source
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(_("Old Excel (.xls) files cannot be read: save the file as XLSX or CSV."))
    encoding, lines, first = _encoding_detect(path)
    head = first.decode(encoding, errors="ignore").split("\n", 1)[0]
    delimiter = "\t" if "\t" in head and "," not in head else ","
    source = RowSource(path=path, kind="csv", encoding=encoding, delimiter=delimiter, approx_rows=max(lines - 1, 0))
    source.header_check()
    return source


def row_values(values: list, header: Header) -> tuple[list, str]:
    """The values of COLUMNS from a file row (missing columns empty), and a problem with its shape."""
    width = len(header.names)
    problem = ""
    if len(values) < width and any(v not in ("", None) for v in values):
        # Short rows from spreadsheets that drop trailing empty cells are fine; the checks judge the values.
        pass
    elif len(values) > width and any(v not in ("", None) for v in values[width:]):
        problem = _("The row has %(found)s fields but the header has %(width)s.") % {
            "found": len(values),
            "width": width,
        }
    index = header.index
    n = len(values)
    picked = []
    for column in COLUMNS:
        position = index.get(column)
        picked.append(values[position] if position is not None and position < n else "")
    return picked, problem


def raw_row(values: list, header: Header) -> dict[str, str]:
    """The row as read, for the error report: known columns under their English names, others as headed."""
    names = {position: column for column, position in header.index.items()}
    header_names = header.names
    raw: dict[str, str] = {}
    for i, value in enumerate(values[:50]):
        name = names.get(i) or (header_names[i] if i < len(header_names) and header_names[i] else f"column_{i + 1}")
        raw[name] = _text(value)[:500]
    return raw


# --- the CSV fast path --------------------------------------------------------------------
#
# A million-row file is mostly rows of one exact shape. ``CsvScan`` reads the file's lines
# itself and matches each against one compiled regular expression built for the file's
# header (its columns, their order, the delimiter): a match means the line is a plain CSV
# row (no quoting but a quoted "1,000") whose every field already has a form the full check
# accepts unchanged (no spaces to strip, no case to fold). A few comparisons then apply the
# rules between columns, and the period check is looked up by the day (every time of a day
# inside the period is accepted alike). The row becomes a line of COPY text at once, with
# no Record, no datetime and no escaping (the patterns admit no tab, newline or backslash).
# Everything else -- quoted fields, other shapes, rows near a limit, days at the edge of the
# period -- is parsed by the csv module and handed back for the complete check, so the two
# paths never disagree (tests/campaign/test_import_properties.py holds them to it).

_FAST_TEXT = r'[^\s",\\]'  # no space to strip, no CSV quoting, nothing COPY text must escape
_FAST_MEMBER = r"[!#-+\--\[\]-~]"  # printable ASCII without space, '"', ',' and '\'
_FAST_YEN = r'[0-9]{1,13}|"[0-9]{1,3}(?:,[0-9]{3}){1,4}"'
_FAST_YEN_TAB = _FAST_YEN + r"|[0-9]{1,3}(?:,[0-9]{3}){1,4}"  # "1,000" needs no quotes between tabs
_FAST_UNKNOWN = 4096  # an ignored column longer than this goes through the csv module (its field limit)
_FAST_FIELDS = {
    "transaction_id": rf"(?P<transaction_id>{_FAST_TEXT}{{1,64}})",
    "member_id": rf"(?P<member_id>{_FAST_MEMBER}{{1,64}})",
    "type": "(?P<type>charge|payment|cancel|チャージ|支払い?|取消し?)",
    "amount": "(?P<amount>{yen})",
    "points_used": "(?P<points_used>(?:{yen})?)",
    "merchant_code": rf"(?P<merchant_code>{_FAST_TEXT}{{0,64}})",
    # Dates are checked (and normalized) once per day by parse_time itself; see CsvScan._day.
    "occurred_at": (
        r"(?P<date>[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2})[T ]"
        r"(?P<clock>(?:[01]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])"
        r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2}|)"
    ),
    "original_transaction_id": rf"(?P<original_transaction_id>{_FAST_TEXT}{{0,64}})",
    "charge_method": "(?P<charge_method>card|jwest_card|seven_atm|bank|)",
}
_FAST_GROUPS = (
    "transaction_id",
    "member_id",
    "type",
    "amount",
    "points_used",
    "merchant_code",
    "date",
    "clock",
    "tz",
    "original_transaction_id",
    "charge_method",
)
_FAST_TYPES = {name: kind for name, kind in TYPES.items()}
_FAST_DAYS_MAX = 20_000
# PostgreSQL reads UTC offsets up to 15:59; Python's up to 23:59: beyond, the complete path decides.
_FAST_MAX_OFFSET = timedelta(hours=15, minutes=59)


def fast_pattern(header: Header, delimiter: str = ",") -> re.Pattern:
    """The regular expression of a common, valid-looking line of a file with this header."""
    by_position = {position: column for column, position in header.index.items()}
    yen = _FAST_YEN_TAB if delimiter == "\t" else _FAST_YEN
    unknown = f'[^"{re.escape(delimiter)}\\r\\n]{{0,{_FAST_UNKNOWN}}}'
    fields = []
    for position in range(len(header.names)):
        column = by_position.get(position)
        fields.append(_FAST_FIELDS[column].replace("{yen}", yen) if column else unknown)
    absent = "".join(f"(?P<{column}>)" for column in COLUMNS if column not in header.index)
    return re.compile(re.escape(delimiter).join(fields) + absent + r"(?:\r\n|\n|\r)?")


def copy_line_record(text: str) -> tuple[int, Record]:
    """A line of COPY text from ``CsvScan`` back as (line, Record): the ORM path stores the same values."""
    line, tid, mid, kind, amount, points, merchant, when, original, method = text[:-1].split("\t")
    occurred = datetime.fromisoformat(when)
    return int(line), Record(tid, mid, kind, int(amount), int(points), merchant, occurred, original, method)


class CsvScan:
    """The rows of a CSV ``RowSource`` in chunks: valid common rows as COPY text, the others as values.

    ``chunks()`` yields ``(lines, others)``: ``lines`` are lines of PostgreSQL COPY text
    (``line, transaction_id, …, charge_method``, tab-separated, ending in a newline), one
    per valid row, exactly the values ``record_check`` would have returned; ``others`` are
    ``(line, values)`` for every other row as the csv module reads it (blank rows too),
    for the complete check. Line numbers are counted as ``RowSource.rows()`` counts them.
    """

    def __init__(self, source: RowSource, window: Window):
        self.source = source
        self.window = window
        self.days: dict[str, tuple] = {}
        # Whether the ids of the rows taken as COPY lines so far strictly increased (in code point
        # order, the order of "C"): then none of them repeats. Up to date at each chunk ``chunks()`` yields.
        self.ids_ascending = True
        header = source.header or source.header_check()
        # After the cut-off every row is refused: the complete check says why.
        self.pattern = None if window.now > window.cutoff_at else fast_pattern(header, source.delimiter)

    def _day(self, date: str, tz: str) -> tuple:
        """(payments and charges of that day pass, cancels pass, date prefix, offset suffix) for date + tz."""
        days = self.days
        if len(days) >= _FAST_DAYS_MAX:
            days.clear()
        day: tuple = (False, False, "", "")
        start = parse_time(f"{date} 00:00:00{tz}")
        offset = start.utcoffset() if start is not None else None
        if start is not None and offset is not None and abs(offset) <= _FAST_MAX_OFFSET:
            window = self.window
            try:
                last = start + timedelta(seconds=86399)  # the last time of the day the pattern admits
            except OverflowError:
                last = None
            if last is not None:
                past = last <= window.latest
                minutes = int(abs(offset).total_seconds()) // 60
                suffix = f"{'-' if offset < timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
                day = (
                    past and window.starts_at <= start and last < window.ends_at,
                    past,
                    f"{start.date().isoformat()} ",
                    suffix,
                )
        days[date + tz] = day
        return day

    def chunks(self, size: int, others_max: int) -> Iterator[tuple[list[str], list[tuple[int, list]]]]:
        """Chunks of at most ``size`` COPY lines and ``others_max`` other rows, in the file's order."""
        source = self.source
        delimiter = source.delimiter
        match = self.pattern.fullmatch if self.pattern is not None else _no_match
        fields = _fast_fields(self.pattern)
        days_get = self.days.get
        day_make = self._day
        kinds = _FAST_TYPES
        max_amount = MAX_AMOUNT
        lines: list[str] = []
        append = lines.append
        others: list[tuple[int, list]] = []
        last_id = ""
        ascending = True
        with source.path.open(encoding=source.encoding, newline="", errors="strict") as stream:
            physical = iter(stream)
            reader = csv.reader(physical, delimiter=delimiter)
            number = 0
            with _csv_refused(lambda: number):
                _csv_header(source, reader)
                number = reader.line_num
                for text in physical:
                    number += 1
                    found = match(text)
                    if found is not None:
                        tid, mid, type_text, amount, points, merchant, date, clock, tz, original, method = fields(found)
                        kind = kinds[type_text]
                        if "," in amount:
                            amount = amount.strip('"').replace(",", "")
                        if not points or points == "0":
                            points = "0"
                            used = 0
                        else:
                            if "," in points:
                                points = points.strip('"').replace(",", "")
                            used = int(points)
                        day = days_get(date + tz) or day_make(date, tz)
                        if kind == "payment":
                            ok = merchant and not method and not original and day[0]
                        elif kind == "charge":
                            ok = not merchant and not used and not original and day[0]
                        else:
                            ok = original and original != tid and day[1]
                        if ok and (len(amount) < 13 or int(amount) <= max_amount) and (not used or used <= int(amount)):
                            if len(clock) == 7:
                                if tz:  # an hour of one digit is ISO 8601 only without an offset
                                    ok = False
                                clock = "0" + clock
                            if ok:
                                if tid <= last_id:
                                    ascending = False
                                last_id = tid
                                append(
                                    f"{number}\t{tid}\t{mid}\t{kind}\t{amount}\t{points}\t{merchant}\t"
                                    f"{day[2]}{clock}{day[3]}\t{original}\t{method}\n"
                                )
                                if len(lines) >= size:
                                    self.ids_ascending = ascending
                                    yield lines, others
                                    lines = []
                                    append = lines.append
                                    others = []
                                continue
                    # Anything else: the csv module reads the row (it may go on over more lines).
                    first = number
                    row_reader = csv.reader(itertools.chain((text,), physical), delimiter=delimiter)
                    try:
                        values = next(row_reader)
                    finally:
                        number = first - 1 + row_reader.line_num
                    others.append((first, values))
                    if len(others) >= others_max:
                        self.ids_ascending = ascending
                        yield lines, others
                        lines = []
                        append = lines.append
                        others = []
        self.ids_ascending = ascending
        if lines or others:
            yield lines, others


def _csv_header(source: RowSource, reader) -> None:
    """Read the header row of a CSV file into ``source.header``; a file without one is refused."""
    names = next(reader, None)
    if names is None:
        raise FileRefused(_("The file is empty: it has no header row."))
    source.header = header_read(names)


@contextmanager
def _csv_refused(line: Callable[[], int]) -> Iterator[None]:
    """A CSV the csv module cannot split, or bytes the detected encoding cannot decode: refused whole."""
    try:
        yield
    except csv.Error as exc:
        raise FileRefused(
            _("The file is not a readable CSV near line %(line)s: %(error)s.") % {"line": line(), "error": exc}
        ) from None
    except UnicodeDecodeError:
        raise FileRefused(_("Cannot read the file's encoding: it is neither UTF-8 nor CP932 (Shift_JIS).")) from None


def _no_match(text: str) -> None:
    return None


def _fast_fields(pattern: re.Pattern | None) -> Callable[[re.Match], tuple]:
    """A function giving a match's groups in the order of _FAST_GROUPS (``Match.groups`` if they are)."""
    if pattern is None:
        return _no_match
    order = tuple(pattern.groupindex[name] - 1 for name in _FAST_GROUPS)
    if order == tuple(range(pattern.groups)):
        return re.Match.groups
    pick = operator.itemgetter(*order)
    return lambda found: pick(found.groups())
