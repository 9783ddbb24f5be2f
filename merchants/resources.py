"""django-import-export resources and file formats for the merchant lists marketing edits.

Rows are keyed on the merchant (district) code, so importing a file again updates the
merchants it names and never creates a second one. CSV files may be UTF-8 (with or without
BOM) or CP932, as spreadsheets in Japan save them; exports are safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import unicodedata

import tablib
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils import translation
from django.utils.translation import gettext
from import_export import fields, resources, widgets
from import_export.formats import base_formats

from merchants.models import District, Merchant

# A cell starting with one of these is read as a formula (or a DDE payload) by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# OWASP "CSV injection": prefixing a single quote makes the cell plain text.
FORMULA_ESCAPE = "'"
CSV_ENCODINGS = ("utf-8-sig", "cp932")


def cell_escape(value: object) -> object:
    """``=1+1`` → ``'=1+1``; other values unchanged (numbers and booleans keep their type)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return FORMULA_ESCAPE + value
    return value


def cell_unescape(value: object) -> object:
    """The inverse of :func:`cell_escape`, so that an exported file imports back unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_ESCAPE) and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


class FileUnreadable(ValueError):
    """A file refused whole; the message (translated) says what to fix."""


def csv_decode(data: bytes) -> str:
    """Decode a CSV file saved as UTF-8 (BOM or not) or CP932 (Shift_JIS, as Excel saves it in Japan)."""
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileUnreadable(gettext("The file is neither UTF-8 nor CP932 (Shift_JIS) text: save it from Excel as CSV."))


def csv_dataset(text: str) -> tablib.Dataset:
    """The rows of a CSV text under its first line; ``dataset.lines`` holds each row's line in the file.

    Blank lines (Excel writes ``,,,,`` for an empty row) are left out; a row reported by its line
    is the row marketing finds at that line in the editor, a quoted value over several lines included.
    """
    dataset, lines = tablib.Dataset(), []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for values in reader:
            line, start = start, reader.line_num + 1
            if dataset.headers is None:
                dataset.headers = values
            elif any(value.strip() for value in values[len(dataset.headers) :]):
                message = gettext(
                    "Line %(line)s has %(cells)s values but the first line names %(columns)s columns:"
                    " put a value holding a comma in double quotes."
                )
                raise FileUnreadable(message % {"line": line, "cells": len(values), "columns": len(dataset.headers)})
            elif any(value.strip() for value in values):
                width = len(dataset.headers)
                dataset.append(values[:width] + [""] * (width - len(values)))
                lines.append(line)
    except csv.Error:
        message = gettext(
            "Line %(line)s cannot be read as CSV: a value is longer than %(limit)s characters,"
            " or a quote is never closed."
        )
        raise FileUnreadable(message % {"line": start, "limit": f"{csv.field_size_limit():,}"}) from None
    dataset.lines = lines
    return dataset


class _FormulaEscapeMixin:
    """Escape every formula-like cell (the library's own escaping only strips a leading ``=``)."""

    def _escape_formulae(self, dataset: tablib.Dataset) -> None:
        for index, row in enumerate(list(dataset)):
            dataset[index] = tuple(cell_escape(cell) for cell in row)


class MerchantCSV(_FormulaEscapeMixin, base_formats.CSV):
    """CSV read as bytes so the encoding is detected, written as UTF-8 with a BOM (Excel opens it right)."""

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream, **kwargs) -> tablib.Dataset:
        return csv_dataset(csv_decode(in_stream) if isinstance(in_stream, bytes) else in_stream)

    def export_data(self, dataset, **kwargs) -> str:
        return "\ufeff" + super().export_data(dataset, **kwargs)


class MerchantXLSX(_FormulaEscapeMixin, base_formats.XLSX):
    pass


FORMATS = [MerchantCSV, MerchantXLSX]


class OrderWidget(widgets.IntegerWidget):
    """A list position; any other cell is the row's error in Japanese, where django-import-export gives
    Decimal's class name ("abc") or Python's limit of 4,300 digits, in English."""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except (ArithmeticError, ValueError):
            text = str(value)
            shown = text if len(text) <= 20 else text[:20] + "…"
            raise ValueError(gettext("“%(value)s” is not a whole number of 0 or more.") % {"value": shown}) from None


class FlagWidget(widgets.BooleanWidget):
    """A yes/no cell: 1/0 as exported, TRUE/FALSE as Excel writes them, はい/いいえ.

    Anything else is the row's error: the library reads an unknown word as False, which would take a
    merchant off the BLUE tag or the bonus list because a cell said 〇.
    """

    WORDS = {"1": True, "true": True, "はい": True, "0": False, "false": False, "いいえ": False}

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip().casefold()
        if text.endswith(".0"):  # a number cell of a spreadsheet: 1.0
            text = text[:-2]
        if not text:
            raise ValueError(gettext("The cell is empty: write 1 (yes) or 0 (no)."))
        if text not in self.WORDS:
            raise ValueError(gettext("%(value)r is not yes or no: write 1 (yes) or 0 (no).") % {"value": value})
        return self.WORDS[text]


def _header_key(name: object) -> str:
    return unicodedata.normalize("NFKC", str(name or "")).strip().casefold()


class _ListResource(resources.ModelResource):
    """Reads a list as marketing edits it: headers in Japanese or as exported, every bad row with its line."""

    WIDGETS_MAP = {
        **resources.ModelResource.WIDGETS_MAP,
        "BooleanField": FlagWidget,
        "PositiveIntegerField": OrderWidget,
        "PositiveSmallIntegerField": OrderWidget,
    }

    def _labels(self) -> dict[str, str]:
        """Each column by its field name; its label in Japanese and English; "label (name)" as the export page."""
        labels = {}
        for name in self._meta.fields:
            labels[_header_key(name)] = name
            for language in ("ja", "en"):
                with translation.override(language):
                    try:
                        label = str(self._meta.model._meta.get_field(name).verbose_name)
                    except FieldDoesNotExist:
                        continue
                labels[_header_key(label)] = name
                labels[_header_key(f"{label} ({name})")] = name
        return labels

    def _columns_text(self) -> str:
        return ", ".join(
            f"{name} ({self._meta.model._meta.get_field(name).verbose_name})" for name in self._meta.fields
        )

    def before_import(self, dataset, **kwargs) -> None:
        self._lines = getattr(dataset, "lines", None)
        self._code_lines: dict[str, int] = {}
        labels = self._labels()
        headers = [labels.get(_header_key(header), header) for header in dataset.headers or []]
        unknown = [str(header) for header in headers if header not in labels.values() and _header_key(header)]
        if "code" not in headers or unknown:
            dataset.wipe()  # no row is read under columns that are not the list's
            if unknown:
                message = gettext(
                    "The file has columns the list does not have: %(unknown)s."
                    " Delete them, or name each column as the export does: %(columns)s."
                )
            else:
                message = gettext(
                    "The file has no column code: its first line must name the columns as the export does: %(columns)s."
                )
            raise FileUnreadable(message % {"unknown": ", ".join(unknown), "columns": self._columns_text()})
        dataset.headers = headers

    def line_of(self, number: int) -> int:
        """The file's line of the ``number``-th row (1-based): the header is line 1."""
        return self._lines[number - 1] if self._lines else number + 1

    def import_data(self, dataset, **kwargs):
        result = super().import_data(dataset, **kwargs)
        for invalid in result.invalid_rows:  # the library counts the rows under the header
            invalid.number = self.line_of(invalid.number)
        for row in result.rows:
            for error in row.errors:
                error.number = self.line_of(error.number)
        return result

    def before_import_row(self, row, **kwargs) -> None:
        # Unescape what our export escaped (kept exactly); trim stray spaces around other cells.
        for key, value in list(row.items()):
            unescaped = cell_unescape(value)
            if unescaped is value and isinstance(value, str):
                unescaped = value.strip()
            row[key] = unescaped
        # Two rows of one code would both be applied, the last silently winning: the second is refused.
        code, line = row.get("code"), self.line_of(kwargs["row_number"])
        if code and self._code_lines.setdefault(code, line) != line:
            message = gettext("The code %(code)s is also on line %(line)s of this file: keep one of the two rows.")
            raise ValidationError({"code": message % {"code": code, "line": self._code_lines[code]}})


class DistrictResource(_ListResource):
    class Meta:
        model = District
        fields = ("code", "order", "name_ja", "name_en", "area_ja", "area_en")
        export_order = fields
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class DistrictCodeWidget(widgets.ForeignKeyWidget):
    """A district by its code; an unknown code is named in the row's error (not "District matching query…")."""

    def __init__(self):
        super().__init__(District, field="code")

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except District.DoesNotExist:
            raise ValueError(
                gettext("No district has the code %(code)s: use one of %(codes)s.")
                % {"code": value, "codes": ", ".join(District.objects.values_list("code", flat=True))}
            ) from None


class MerchantResource(_ListResource):
    district = fields.Field(attribute="district", column_name="district", widget=DistrictCodeWidget())

    class Meta:
        model = Merchant
        fields = (
            "code",
            "name",
            "name_kana",
            "address",
            "district",
            "order",
            "blue_tag",
            "on_bonus_list",
            "is_active",
        )
        export_order = fields
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
