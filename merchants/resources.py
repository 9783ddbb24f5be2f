"""django-import-export resources and file formats for the merchant lists marketing edits.

Rows are keyed on the merchant (district) code, so importing a file again updates the
merchants it names and never creates a second one. CSV files may be UTF-8 (with or without
BOM) or CP932, as spreadsheets in Japan save them; exports are safe to open in a spreadsheet.
"""

from __future__ import annotations

import tablib
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


def csv_decode(data: bytes) -> str:
    """Decode a CSV file saved as UTF-8 (BOM or not) or CP932 (Shift_JIS, as Excel saves it in Japan)."""
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("The file is neither UTF-8 nor CP932 (Shift_JIS) text.")


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
        if isinstance(in_stream, bytes):
            in_stream = csv_decode(in_stream)
        return tablib.import_set(in_stream, format="csv", **kwargs)

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


class _UnescapingResource(resources.ModelResource):
    WIDGETS_MAP = resources.ModelResource.WIDGETS_MAP | {
        "PositiveIntegerField": OrderWidget,
        "PositiveSmallIntegerField": OrderWidget,
    }

    def before_import_row(self, row, **kwargs) -> None:
        # Unescape what our export escaped (kept exactly); trim stray spaces around other cells.
        for key, value in list(row.items()):
            unescaped = cell_unescape(value)
            if unescaped is value and isinstance(value, str):
                unescaped = value.strip()
            row[key] = unescaped


class DistrictResource(_UnescapingResource):
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


class MerchantResource(_UnescapingResource):
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
