from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from missions.models import Course, LedgerLine, Mission, PointExport, Stamp, StampCard, Video


@admin.register(Course)
class CourseAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name_ja", "name_en", "campaign", "order"]
    list_filter = ["campaign"]
    search_fields = ["code", "name_ja", "name_en"]


@admin.register(Mission)
class MissionAdmin(SimpleHistoryAdmin):
    list_display = [
        "code",
        "title_ja",
        "course",
        "kind",
        "min_amount",
        "target_count",
        "reward_points",
        "point_type",
        "is_active",
    ]
    list_filter = ["campaign", "course", "kind", "point_type", "is_active"]
    search_fields = ["code", "title_ja", "title_en"]
    list_select_related = ["course"]
    filter_horizontal = ["requires"]


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["code", "title_ja", "duration_seconds", "campaign"]
    search_fields = ["code", "title_ja", "title_en"]


@admin.register(StampCard)
class StampCardAdmin(admin.ModelAdmin):
    list_display = [
        "member",
        "campaign",
        "entered",
        "stamps_cleared",
        "points_limited",
        "points_basic",
        "lottery_eligible",
        "scored_at",
    ]
    list_filter = ["entered", "lottery_eligible", "stamps_cleared"]
    search_fields = ["=member__member_id"]
    raw_id_fields = ["member"]
    show_full_result_count = False


@admin.register(Stamp)
class StampAdmin(admin.ModelAdmin):
    list_display = ["member", "mission", "progress", "target", "cleared", "cleared_at"]
    list_filter = ["cleared", "mission"]
    search_fields = ["=member__member_id"]
    list_select_related = ["mission"]
    raw_id_fields = ["member", "cleared_by_transaction", "cleared_by_video_view"]
    show_full_result_count = False


@admin.register(LedgerLine)
class LedgerLineAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "reward", "kind", "points", "point_type", "occurred_at", "created_at", "export"]
    list_filter = ["kind", "point_type", "reward"]
    search_fields = ["=member__member_id"]
    raw_id_fields = ["member", "mission", "export"]
    show_full_result_count = False


@admin.register(PointExport)
class PointExportAdmin(admin.ModelAdmin):
    list_display = ["number", "campaign", "encoding", "line_count", "points_total", "created_by", "created_at"]
    list_select_related = ["created_by", "campaign"]
