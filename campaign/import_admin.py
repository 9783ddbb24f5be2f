"""Admin pages for transaction file imports (operations staff)."""

from __future__ import annotations

from django.contrib import admin

from campaign.models import ImportBatch, ImportRejection


class ImportRejectionInline(admin.TabularInline):
    model = ImportRejection
    extra = 0
    fields = ["line", "transaction_id", "reason"]
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "file_name",
        "status",
        "uploaded_by",
        "created_at",
        "rows_total",
        "accepted",
        "duplicates",
        "rejected",
    ]
    list_filter = ["status"]
    search_fields = ["file_name", "sha256"]
    list_select_related = ["uploaded_by"]
    inlines = [ImportRejectionInline]
