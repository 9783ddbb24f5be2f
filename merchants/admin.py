from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from merchants.models import District, Merchant


@admin.register(District)
class DistrictAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name_ja", "name_en", "area_ja", "order"]
    search_fields = ["code", "name_ja", "name_en"]


@admin.register(Merchant)
class MerchantAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "district", "address", "blue_tag", "on_bonus_list", "is_active"]
    list_filter = ["district", "blue_tag", "on_bonus_list", "is_active"]
    search_fields = ["code", "name", "name_kana", "address"]
    list_select_related = ["district"]
