"""Reading a transaction file (SPEC 3.1): format and encoding, the header, then the rows one by one.

Nothing here touches the database. A file the portal cannot read at all is refused whole
(``FileRefused``); a row it can read goes to ``checking.record_check``.

XLSX is read with openpyxl in read-only mode, which streams the sheet's XML; its shared strings are
held in memory, so a workbook whose sheet and shared-strings XML together unpack beyond
``XLSX_MAX_SHEET_XML`` (settings.PORTAL_IMPORT_XLSX_MAX_SHEET_XML, 300 MB by default: about 600,000
rows) is refused with a message asking for CSV, which is read with a constant footprint.

What is wrong with one row rather than the whole file is noted in ``RowSource.problems`` by line, and
that row alone is rejected: a CSV quote never closed, a CSV value beyond the csv module's field limit,
an XLSX formula whose value was never saved.
"""

from __future__ import annotations

import codecs
import csv
import operator
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl.worksheet import _reader as sheet_reader

from campaign.imports.checking import COLUMNS, JAPANESE_COLUMNS, REQUIRED_COLUMNS, column_label, text_of
from campaign.jsonio import MAX_INT_TEXT

# An XLSX is a zip: refuse one whose parts inflate beyond these (a decompression bomb).
XLSX_MAX_UNCOMPRESSED = 4 * 1024**3
XLSX_MAX_RATIO = 200
_CHUNK = 1024 * 1024


_number_cast = sheet_reader._cast_number


def _number_or_text(value: str):
    """A sheet's number as openpyxl reads it, but one too long for ``int()`` (4,300 digits and more)
    stays text: the row check then refuses that one row ("too large") instead of the whole file."""
    return value if len(value) > MAX_INT_TEXT else _number_cast(value)


# openpyxl casts each numeric cell with this module function while it streams a sheet (read-only mode).
sheet_reader._cast_number = _number_or_text


class _SheetParser(sheet_reader.WorkSheetParser):
    """openpyxl's streaming parser of a sheet, which also notes the cells holding a formula with no saved
    value: <f> with no <v>, or an empty one (openpyxl writes <v />), where a spreadsheet application saves
    what it computed (an empty text as <v></v> in a cell typed "str"). openpyxl reads such a cell as empty,
    and the row was rejected as "amount is required" while the staff member saw a formula there. The cell
    reads as its formula; its column goes to ``unsaved``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unsaved: list[int] = []  # the columns (from 1) of such cells in the row being parsed

    def parse_cell(self, element):
        cell = super().parse_cell(element)
        if (
            cell["value"] is None
            and element.find(sheet_reader.FORMULA_TAG) is not None
            and (element.get("t") != "str" or element.find(sheet_reader.VALUE_TAG) is None)
        ):
            self.unsaved.append(cell["column"])
            cell["value"] = "=" + (element.findtext(sheet_reader.FORMULA_TAG) or "")
        return cell


class FileRefused(Exception):
    """The file cannot be read at all; nothing of it is imported (SPEC 3.1)."""


@dataclass
class Header:
    """Where each known column is in the file's rows, and what the header said otherwise."""

    names: list[str]
    index: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def japanese(self) -> bool:
        """Whether the file named its columns in Japanese (its error report answers in kind)."""
        return any(unicodedata.normalize("NFKC", name).replace(" ", "") in JAPANESE_COLUMNS for name in self.names)

    def picker(self) -> Callable[[list], tuple]:
        """A function that takes COLUMNS from a full-width row with one "" appended (missing columns)."""
        width = len(self.names)
        return operator.itemgetter(*(self.index.get(column, width) for column in COLUMNS))


def header_read(names: list[Any]) -> Header:
    """Map a header row to COLUMNS; refuse it when a required column is missing or repeated."""
    cleaned = [text_of(name).lstrip("\ufeff").strip() for name in names]
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
            raise FileRefused(
                _("The column %(column)s appears twice in the header.") % {"column": column_label(column)}
            )
        index[column] = position
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if missing:
        raise FileRefused(
            _("The required column %(columns)s is missing from the header (found: %(found)s).")
            % {
                "columns": ", ".join(map(column_label, missing)),
                "found": ", ".join(name for name in cleaned if name) or "-",
            }
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
    # Line → what was found wrong with that row while reading it, by column as ``record_check``'s errors.
    problems: dict[int, dict[str, list[str]]] = field(default_factory=dict)

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
            lines = _Lines(stream)
            taken, again = lines.taken, lines.again  # the lines of the record being read; lines to read again
            reader = csv.reader(lines, delimiter=self.delimiter)
            line = 0  # the last line read
            with _csv_refused(lambda: line + len(taken)):
                _csv_header(self, reader)
                width = len(self.header.names)
                line = len(taken)
                taken.clear()
                while True:
                    try:
                        for values in reader:
                            if len(taken) > 1 and len(values) != width:
                                # A quote that opened a value and never closed ran this record on over the lines
                                # after it: those are read again as the rows they are, this line is rejected alone.
                                values = self._line_alone(line + 1, taken, again, _unclosed_reason())
                            first, line = line + 1, line + len(taken)
                            taken.clear()
                            yield first, values
                        return
                    except csv.Error:
                        # The csv module refuses a value beyond its field limit (131,072 characters) and goes on
                        # with the next line: only this row is rejected. Over several lines, it is a quote that
                        # never closed (or not for that long): the lines after the first are read again.
                        if sum(map(len, taken)) < csv.field_size_limit():
                            raise  # anything else: the file is refused whole
                        reason = _unclosed_reason() if len(taken) > 1 else _too_long_reason()
                        values = self._line_alone(line + 1, taken, again, reason)
                    first, line = line + 1, line + len(taken)
                    taken.clear()
                    yield first, values

    def _line_alone(self, line: int, taken: list[str], again: list[str], reason: str) -> list:
        """The fields of the record's first line alone, rejected for ``reason``; its other lines to read again."""
        again.extend(reversed(taken[1:]))
        del taken[1:]
        self.problems[line] = {"non_field_errors": [reason]}
        # Cut below the field limit: the row is rejected anyway, and its first fields name it in the report.
        return next(csv.reader([taken[0][: csv.field_size_limit() - 1]], delimiter=self.delimiter), [])

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
            try:
                yield from self._sheet_rows(workbook, sheet)
            except FileRefused:
                raise
            except Exception as exc:
                raise FileRefused(_("The XLSX file cannot be read: %(error)s.") % {"error": exc}) from None
        finally:
            workbook.close()

    def _sheet_rows(self, workbook, sheet) -> Iterator[tuple[int, list]]:
        """The sheet's rows with their numbers, each as wide as the header at least (the common row takes the
        fast path), parsed by ``_SheetParser`` as openpyxl's read-only ``iter_rows`` parses, but to the last
        row: ``iter_rows`` stops at the sheet's stated <dimension>, which a program may leave stale."""
        with sheet._get_source() as xml:
            parser = _SheetParser(
                xml,
                sheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            rows = parser.parse()
            number, cells = next(rows, (0, None))
            if cells is None:
                raise FileRefused(_("The file is empty: it has no header row."))
            self.header = header_read(_cell_values(cells, 0) if number == 1 else [])
            parser.unsaved.clear()
            width = len(self.header.names)
            for number, cells in rows:
                values = _cell_values(cells, width)
                if parser.unsaved:
                    self._formulas_note(number, parser.unsaved)
                yield number, values

    def _formulas_note(self, line: int, unsaved: list[int]) -> None:
        """Reject the row for its transaction columns that hold a formula whose value was never saved."""
        columns = {position + 1: column for column, position in self.header.index.items()}
        message = _(
            "%(column)s holds a formula whose value was never saved (a file written by a program, not by a "
            "spreadsheet application): open the file in Excel and save it, or export it as CSV, and import it again."
        )
        errors = {columns[n]: [message % {"column": column_label(columns[n])}] for n in unsaved if n in columns}
        if errors:
            self.problems[line] = errors
        unsaved.clear()


def _cell_values(cells: list[dict], width: int) -> list:
    """A parsed row's values by column, empty cells None, at least ``width`` of them."""
    values = [None] * max(width, max((cell["column"] for cell in cells), default=0))
    for cell in cells:
        values[cell["column"] - 1] = cell["value"]
    return values


def _unclosed_reason() -> str:
    return _(
        'A value on this line opens a quote (") that is never closed; the lines after it were read as rows of '
        "their own."
    )


def _too_long_reason() -> str:
    return _(
        "A value on this line is longer than %(limit)s characters, far longer than any column allows; the row "
        "cannot be read."
    ) % {"limit": f"{csv.field_size_limit():,}"}


def _xlsx_check(path: Path) -> None:
    """Refuse a workbook that is no zip, inflates like a bomb, or holds more sheet XML than the cap."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRefused(_("The file looks like XLSX but is not a readable workbook.")) from None
    total = sheets = 0
    for info in infos:
        total += info.file_size
        if info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml":
            sheets += info.file_size
        if info.file_size > 10 * 1024**2 and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
            raise FileRefused(_("The XLSX file inflates far beyond its size; it is refused as unsafe."))
    if total > XLSX_MAX_UNCOMPRESSED:
        raise FileRefused(_("The XLSX file is too large once unpacked; split it or save it as CSV."))
    cap = settings.PORTAL_IMPORT_XLSX_MAX_SHEET_XML
    if sheets > cap:
        raise FileRefused(
            _(
                "The XLSX file holds %(size)s MB of sheet data once unpacked; the portal reads at most %(cap)s MB "
                "of it. Save the sheet as CSV (any size is read) or split it."
            )
            % {"size": sheets // 10**6, "cap": cap // 10**6}
        )


def _encoding_detect(path: Path) -> tuple[str, int, bytes]:
    """Decode the whole file strictly as UTF-8, else CP932; also count its lines (for the progress bar).

    Refused, the message names the line where the encoding that read furthest stopped: one stray byte
    refuses the file, and operations must be able to find it."""
    stopped: list[int] = []
    for encoding in ("utf-8-sig", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        lines = 0
        first = b""
        chunk = b""
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
        except UnicodeDecodeError as exc:
            # The error's position is within what this call decoded: the chunk (a character cut by the
            # chunk's end is decoded with the next one, so the line is right to within that character).
            stopped.append(lines + chunk[: max(exc.start, 0)].count(b"\n") + 1)
            continue
        return ("utf-8-sig" if encoding == "utf-8-sig" else "cp932"), lines, first
    raise FileRefused(
        _(
            "Cannot read the file's encoding: it is neither UTF-8 nor CP932 (Shift_JIS). Line %(line)s holds "
            "bytes that are neither: correct or remove them and import the file again."
        )
        % {"line": max(stopped)}
    )


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
        raw[name] = text_of(value)[:500]
    return raw


def _csv_header(source: RowSource, reader) -> None:
    """Read the header row of a CSV file into ``source.header``; a file without one is refused."""
    names = next(reader, None)
    if names is None:
        raise FileRefused(_("The file is empty: it has no header row."))
    source.header = header_read(names)


class _Lines:
    """The file's lines for ``csv.reader``, each also kept in ``taken``; lines put in ``again`` come first,
    even once the file has ended (an end that closed a record still open leaves the reader usable)."""

    def __init__(self, stream) -> None:
        self.stream, self.taken, self.again = stream, [], []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = self.again.pop() if self.again else next(self.stream)
        self.taken.append(text)
        return text


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
