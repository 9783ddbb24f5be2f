from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from campaign import import_admin  # noqa: F401  (the transaction import pages)
from campaign.models import Campaign, Entry, Member, Transaction, VideoView


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ja", "starts_at", "ends_at", "data_cutoff_at", "lottery_winners", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name_ja", "name_en"]
    fieldsets = [
        (None, {"fields": ["code", "is_active", "name_ja", "name_en", "tagline_ja", "tagline_en"]}),
        (_("Texts"), {"fields": ["description_ja", "description_en", "notes"]}),
        (
            _("Period and data"),
            {"fields": ["starts_at", "ends_at", "entry_starts_at", "entry_ends_at", "data_cutoff_at"]},
        ),
        (_("Lottery"), {"fields": ["lottery_winners", "lottery_prize_points", "lottery_point_type"]}),
    ]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["member_id", "user", "created_at"]
    search_fields = ["member_id"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    show_full_result_count = False


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["member", "campaign", "entered_at", "source", "received_at"]
    list_filter = ["campaign", "source"]
    search_fields = ["member__member_id"]
    date_hierarchy = "entered_at"
    raw_id_fields = ["member"]
    list_select_related = ["campaign"]
    show_full_result_count = False


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = [
        "transaction_id",
        "member",
        "type",
        "amount",
        "points_used",
        "merchant_code",
        "occurred_at",
        "original_transaction_id",
        "source",
    ]
    list_filter = ["type", "source", "charge_method"]
    search_fields = ["=transaction_id", "=member__member_id", "=original_transaction_id"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["member", "import_batch"]
    show_full_result_count = False


@admin.register(VideoView)
class VideoViewAdmin(admin.ModelAdmin):
    list_display = ["member", "video", "watched_at", "source"]
    list_filter = ["video", "source"]
    search_fields = ["=member__member_id"]
    raw_id_fields = ["member"]
    list_select_related = ["video"]
