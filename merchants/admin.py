"""Marketing's pages for districts and merchants: the BLUE-tag bonus list (R7), with import, export and history."""

from __future__ import annotations

import unicodedata

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext
from import_export.admin import ImportExportModelAdmin
from import_export.forms import SelectableFieldsExportForm

from campaign.admin_display import CappedCountPaginator, HistoryAdmin
from merchants.models import District, Merchant
from merchants.resources import FORMATS, DistrictResource, FileUnreadable, MerchantResource
from merchants.services import bonus_members_rescore

# Katakana ァ…ヶ and hiragana ぁ…ゖ lie 0x60 apart: a reading typed in either finds the other.
_TO_HIRAGANA = {code: code - 0x60 for code in range(ord("ァ"), ord("ヶ") + 1)}
_TO_KATAKANA = {code - 0x60: code for code in range(ord("ァ"), ord("ヶ") + 1)}


def _search_variants(term: str) -> set[str]:
    """The term as typed, with full-width letters and half-width kana made ordinary, in hiragana and katakana."""
    narrow = unicodedata.normalize("NFKC", term)
    return {term, narrow, narrow.translate(_TO_HIRAGANA), narrow.translate(_TO_KATAKANA)}


def _on_bonus_list(merchant: Merchant | dict | None) -> bool:
    """Whether payments there count for the bonus (R7), of a merchant or a form's initial values."""
    if isinstance(merchant, dict):
        return bool(merchant.get("on_bonus_list") and merchant.get("is_active"))
    return merchant is not None and merchant.on_bonus_list and merchant.is_active


class ExportFieldsForm(SelectableFieldsExportForm):
    """The columns to export named as the model names them (the library writes "Blue Tag", in English)."""

    def _get_field_label(self, resource, field_name: str) -> str:
        try:
            label = str(resource._meta.model._meta.get_field(field_name).verbose_name)
        except FieldDoesNotExist:
            return super()._get_field_label(resource, field_name)
        return f"{label} ({field_name})"


class _ListAdmin(ImportExportModelAdmin, HistoryAdmin):
    """Import with preview and confirmation, export, and every change in the history (who and when)."""

    export_form_class = ExportFieldsForm
    import_formats = FORMATS
    export_formats = FORMATS
    # The library's page shows a refused file's Python traceback to marketing: this one only the reason.
    import_template_name = "admin/merchants/import.html"

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, FileUnreadable):
            form.add_error("import_file", str(e))  # says what to fix, in the staff's language
        else:
            super().add_data_read_fail_error_to_form(form, e)


@admin.register(District)
class DistrictAdmin(_ListAdmin):
    resource_classes = [DistrictResource]
    list_display = ["code", "name_ja", "name_en", "area_ja", "order"]
    search_fields = ["code", "name_ja", "name_en"]


@admin.register(Merchant)
class MerchantAdmin(_ListAdmin):
    resource_classes = [MerchantResource]
    # Seven columns that fit 1280 px beside the filters: the kana reading is searched, not listed, and
    # the stylesheet keeps codes and flags on one line so the address gets the width it needs.
    list_display = ["code", "name", "district", "address", "blue_tag", "on_bonus_list", "is_active"]
    list_filter = ["district", "blue_tag", "on_bonus_list", "is_active"]
    search_fields = ["code", "name", "name_kana", "address"]
    list_select_related = ["district"]
    list_per_page = 100
    # About 1.6 million merchants nationwide: no full count, no district dropdown of rows.
    show_full_result_count = False
    # Facet counts over millions of rows: never, even on request.
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    autocomplete_fields = ["district"]

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        for variant in _search_variants(search_term) - {search_term}:
            more, more_duplicates = super().get_search_results(request, queryset, variant)
            results, duplicates = results | more, duplicates or more_duplicates
        return results, duplicates

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        was = _on_bonus_list(form.initial)
        if was != _on_bonus_list(obj) or (was and form.initial.get("code") != obj.code):
            self._bonus_rescore(request, {form.initial.get("code"), obj.code})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        if _on_bonus_list(obj):
            self._bonus_rescore(request, {obj.code})

    def delete_queryset(self, request, queryset):
        codes = set(queryset.bonus().values_list("code", flat=True))
        super().delete_queryset(request, queryset)
        self._bonus_rescore(request, codes)

    def process_result(self, result, request):
        codes = {
            row.instance.code
            for row in result.rows
            if row.instance is not None and _on_bonus_list(row.original) != _on_bonus_list(row.instance)
        }
        response = super().process_result(result, request)
        self._bonus_rescore(request, codes)
        return response

    def _bonus_rescore(self, request, codes: set) -> None:
        """A change of the bonus list changes scoring: the members who paid at those merchants are re-scored."""
        members = bonus_members_rescore(codes=codes)
        if members:
            message = gettext("The bonus list changed: the %(members)s members who paid at %(codes)s are re-scored.")
            named = sorted(code for code in codes if code)
            codes_text = ", ".join(named[:10]) + (" …" if len(named) > 10 else "")  # an import may change thousands
            self.message_user(request, message % {"members": f"{members:,}", "codes": codes_text}, messages.INFO)

    class Media:
        css = {"all": ["backoffice/merchants.css"]}
