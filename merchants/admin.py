"""Marketing's pages for districts and merchants: the BLUE-tag bonus list (R7), with import, export and history."""

from __future__ import annotations

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from campaign.admin import CappedCountPaginator
from merchants.models import District, Merchant
from merchants.resources import FORMATS, DistrictResource, MerchantResource


class _ListAdmin(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Import with preview and confirmation, export, and every change in the history (who and when)."""

    import_formats = FORMATS
    export_formats = FORMATS


@admin.register(District)
class DistrictAdmin(_ListAdmin):
    resource_classes = [DistrictResource]
    list_display = ["code", "name_ja", "name_en", "area_ja", "order"]
    search_fields = ["code", "name_ja", "name_en"]


@admin.register(Merchant)
class MerchantAdmin(_ListAdmin):
    resource_classes = [MerchantResource]
    list_display = ["code", "name", "name_kana", "district", "address", "blue_tag", "on_bonus_list", "is_active"]
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
