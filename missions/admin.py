"""The back office for courses and missions (marketing), stamps, the ledger and point exports (operations)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaign import clock
from campaign.admin_display import (
    BigTableAdmin,
    GroupedNumbers,
    HistoryAdmin,
    LabelledColumns,
    filter_number,
    ledger_reward_text,
    titled,
    unlinked_column,
)
from campaign.audit import staff_action_record
from campaign.models import Campaign
from missions.exporting import (
    ENCODINGS,
    NOTHING_TO_EXPORT,
    ExportTampered,
    point_export_filename,
    point_export_render,
    point_export_stream,
    points_export_later,
)
from missions.models import Course, LedgerLine, Mission, PointExport, Stamp, StampCard, Video
from missions.rule_preview import affected_members_sample, text_contradictions
from missions.services import rule_change_preview
from missions.tasks import campaign_rescore_later

# Changing one of these changes who clears what: after the start, it needs a re-score.
RULE_FIELDS = {
    "kind",
    "min_amount",
    "target_count",
    "window_start",
    "window_end",
    "weekdays",
    "bonus_merchants_only",
    "requires",
    "reward_points",
    "unit_points",
    "point_type",
    "is_active",
    "counts_for_lottery",
}
CONFIRM_FIELD = "_rescore_confirmed"
# The figures of each affected member, in the dry run's order (the sample's totals add these up).
SAMPLE_COLUMNS = (
    "stamps_changed",
    "stamps_new",
    "stamps_withdrawn",
    "stamps_progress",
    "awards",
    "reversals",
    "points_delta",
)
SMALL_EXPORT_LINES = 100_000  # larger exports stream to the browser
WEEKDAY_CHOICES = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]


@admin.register(Course)
class CourseAdmin(HistoryAdmin):
    list_display = ["code", "name_ja", "name_en", "campaign", "order"]
    list_filter = ["campaign"]
    search_fields = ["code", "name_ja", "name_en"]


class MissionForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("weekdays"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every day (Japan time)."),
        error_messages={"invalid_choice": _("%(value)s is not a weekday: choose from Monday to Sunday.")},
    )

    class Meta:
        model = Mission
        fields = [
            "campaign",
            "course",
            "code",
            "order",
            "is_active",
            "label_ja",
            "label_en",
            "title_ja",
            "title_en",
            "description_ja",
            "description_en",
            "kind",
            "min_amount",
            "target_count",
            "window_start",
            "window_end",
            "weekdays",
            "bonus_merchants_only",
            "requires",
            "reward_points",
            "unit_points",
            "point_type",
            "counts_for_lottery",
        ]
        error_messages = {
            field: {"min_value": _("This cannot be negative.")}
            for field in ("min_amount", "reward_points", "unit_points", "order")
        } | {"target_count": {"min_value": _("The target must be at least 1.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_count"].min_value = 1
        self.fields["target_count"].widget.attrs["min"] = 1
        self.fields["target_count"].validators.append(_at_least_one)
        if self.instance and isinstance(self.instance.weekdays, list):
            self.initial.setdefault("weekdays", self.instance.weekdays)

    def clean_weekdays(self) -> list[int]:
        return sorted(set(self.cleaned_data.get("weekdays") or []))


def _at_least_one(value: int | None) -> None:
    if value is not None and value < 1:
        raise ValidationError(_("The target must be at least 1."), code="min_value")


@admin.register(Mission)
class MissionAdmin(GroupedNumbers, HistoryAdmin):
    """Marketing edits mission texts, rewards and rules (R6).

    Once the campaign has started, a change to a rule is first shown as a dry run on the
    stored data (how many members' stamps and how many points it would change); on
    confirmation it is saved and every member is re-scored in the background.
    """

    form = MissionForm
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
    fieldsets = [
        (None, {"fields": ["campaign", "course", "code", "order", "is_active"]}),
        (
            _("Texts"),
            {"fields": ["label_ja", "label_en", "title_ja", "title_en", "description_ja", "description_en"]},
        ),
        (
            _("Rule"),
            {
                "fields": [
                    "kind",
                    "min_amount",
                    "target_count",
                    ("window_start", "window_end"),
                    "weekdays",
                    "bonus_merchants_only",
                    "requires",
                ]
            },
        ),
        (_("Reward"), {"fields": ["reward_points", "unit_points", "point_type", "counts_for_lottery"]}),
    ]

    @staticmethod
    def _started(campaign: Campaign) -> bool:
        return clock.now() >= campaign.starts_at

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and CONFIRM_FIELD not in request.POST and "_saveasnew" not in request.POST:
            mission = self.get_object(request, object_id)
            if mission is not None and self.has_change_permission(request, mission):
                preview = self._rule_change_preview(request, mission)
                if preview is not None:
                    return preview
        return super().change_view(request, object_id, form_url, extra_context)

    def _rule_change_preview(self, request: HttpRequest, mission: Mission) -> HttpResponse | None:
        """The confirmation page of a rule change after the start, or None when saving needs no confirmation."""
        if not self._started(mission.campaign):
            return None
        form = self.get_form(request, mission, change=True)(request.POST, request.FILES, instance=mission)
        if not form.is_valid():
            return None  # the normal page shows the errors
        changed = sorted(RULE_FIELDS & set(form.changed_data))
        if not changed:
            return None
        before = Mission.objects.get(pk=mission.pk)
        edited = form.save(commit=False)  # unsaved: only the dry run sees it
        preview = rule_change_preview(campaign=mission.campaign, missions=[edited])
        sample = affected_members_sample(campaign=mission.campaign, edited=edited)
        complete = not preview.estimated and len(sample) == preview.result.members_changed
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Confirm the rule change"),
            "opts": self.opts,
            "original": mission,
            "changed_fields": [Mission._meta.get_field(name).verbose_name for name in changed],
            "result": preview.result,
            "effect": preview.effect,
            "preview": preview,
            "sample": sample,
            # Every affected member is listed: the sample's totals are the dry run's, line for line.
            "sample_complete": complete,
            "sample_totals": {key: sum(getattr(effect, key) for effect in sample) for key in SAMPLE_COLUMNS},
            "warnings": text_contradictions(before=before, after=edited, changed=changed),
            "post_items": [(key, value) for key in request.POST for value in request.POST.getlist(key)],
            "confirm_field": CONFIRM_FIELD,
        }
        return TemplateResponse(request, "admin/missions/mission/rescore_confirm.html", context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        mission = form.instance
        changed = sorted(RULE_FIELDS & set(form.changed_data))
        if change and changed and self._started(mission.campaign):
            campaign_rescore_later(campaign=mission.campaign)
            staff_action_record(
                user=request.user,
                obj=mission,
                message=gettext("Rule change of %(code)s (%(fields)s): full re-score started")
                % {
                    "code": mission.code,
                    "fields": ", ".join(str(Mission._meta.get_field(f).verbose_name) for f in changed),
                },
            )
            self.message_user(
                request,
                gettext("The rule change is saved; every member is being re-scored in the background."),
                messages.INFO,
            )


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["code", "title_ja", "duration_seconds", "campaign"]
    search_fields = ["code", "title_ja", "title_en"]


class _ReadOnlyAdmin(GroupedNumbers, LabelledColumns, BigTableAdmin):
    """Written by the scoring engine only: staff look, nobody edits."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StampsClearedFilter(admin.SimpleListFilter):
    """0 … the number of missions, without a DISTINCT over a million stamp cards."""

    title = _("stamps cleared")
    parameter_name = "stamps"

    def lookups(self, request, model_admin):
        most = Mission.objects.filter(is_active=True).values("campaign").annotate(n=Count("id")).aggregate(m=Max("n"))
        return [(str(n), str(n)) for n in range((most["m"] or 0) + 1)]

    def queryset(self, request, queryset):
        number = filter_number(self.value())
        return queryset if number is None else queryset.filter(stamps_cleared=number)


class RewardFilter(admin.SimpleListFilter):
    """The rewards: the mission codes and the lottery, read from the missions, not from millions of lines."""

    title = _("reward")
    parameter_name = "reward"

    def lookups(self, request, model_admin):
        missions = {m.code: m.title for m in Mission.objects.order_by("-campaign__starts_at", "course__order", "order")}
        return [*missions.items(), ("lottery", gettext("lottery prize"))]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(reward=self.value())
        return queryset


@admin.register(StampCard)
class StampCardAdmin(_ReadOnlyAdmin):
    list_display = [
        "member_column",
        "campaign_column",
        "entered",
        "stamps_cleared",
        "points_limited",
        "points_basic",
        "lottery_eligible",
        "scored_at",
    ]
    list_filter = ["entered", "lottery_eligible", StampsClearedFilter]
    search_fields = ["member__member_id"]
    list_select_related = ["campaign"]
    member_by_campaign = True
    fields = list_display
    readonly_fields = fields


@admin.register(Stamp)
class StampAdmin(_ReadOnlyAdmin):
    list_display = ["member_column", "mission_column", "progress", "target", "cleared", "cleared_at"]
    list_filter = ["cleared", ("mission", titled(admin.RelatedFieldListFilter, _("mission")))]
    search_fields = ["member__member_id"]
    list_select_related = ["mission"]
    fields = ["member_column", "mission_column", "progress", "target", "cleared", "cleared_at"]
    readonly_fields = fields


@admin.register(LedgerLine)
class LedgerLineAdmin(_ReadOnlyAdmin):
    list_display = [
        "id",
        "member_column",
        "reward_column",
        "kind",
        "points",
        "point_type",
        "occurred_at",
        "created_at",
        "export_column",
    ]
    list_filter = [
        "kind",
        "point_type",
        RewardFilter,
        ("export", titled(admin.EmptyFieldListFilter, _("point export"))),
    ]
    search_fields = ["member__member_id"]
    list_select_related = ["export", "mission"]
    member_by_campaign = True
    fields = list_display[1:]  # the columns but the line's id
    readonly_fields = fields

    @admin.display(description=_("reward"), ordering="reward")
    def reward_column(self, obj: LedgerLine) -> str:
        return ledger_reward_text(obj)


class PointExportForm(forms.Form):
    encoding = forms.ChoiceField(label=_("encoding"), choices=list(ENCODINGS.items()), initial="utf-8")


@admin.register(PointExport)
class PointExportAdmin(GroupedNumbers, LabelledColumns, admin.ModelAdmin):
    """Operations create numbered exports of the ledger lines not exported yet, and download any again (R12)."""

    list_display = [
        "number",
        "campaign_column",
        "encoding",
        "line_count",
        "points_total",
        "created_by",
        "created_at",
        "file",
    ]
    list_select_related = ["created_by", "campaign"]
    list_filter = [("campaign", titled(admin.RelatedFieldListFilter, _("campaign")))]
    readonly_fields = [
        "campaign_column",
        "number",
        "encoding",
        "line_count",
        "points_total",
        "sha256",
        "created_by_column",
        "created_at",
    ]
    fields = readonly_fields  # shown, never edited: the campaign and the creator by their names

    created_by_column = unlinked_column(PointExport, "created_by")  # operations may not open users (403)

    @admin.display(description=_("file"))
    def file(self, obj: PointExport) -> str:
        url = reverse("admin:missions_pointexport_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/download/", view(self.download_view), name="missions_pointexport_download"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """The page "create a new point export": choose the encoding, then the file is numbered and created."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        campaign = Campaign.objects.current()
        form = PointExportForm(request.POST or None)
        pending = LedgerLine.objects.filter(campaign=campaign, export__isnull=True).count()
        if request.method == "POST" and form.is_valid() and not pending:
            # A double click or a second tab: the first took every line; say so rather than number an empty file.
            self.message_user(request, NOTHING_TO_EXPORT, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:missions_pointexport_changelist"))
        if request.method == "POST" and form.is_valid():
            points_export_later(campaign=campaign, user=request.user, encoding=form.cleaned_data["encoding"])
            self.message_user(
                request,
                gettext("The point export is being created; it appears in this list with its number when it is ready."),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:missions_pointexport_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Create a new point export"),
            "opts": self.opts,
            "form": form,
            "campaign": campaign,
            "pending": pending,
            "nothing_to_export": NOTHING_TO_EXPORT,
        }
        return TemplateResponse(request, "admin/missions/pointexport/create.html", context)

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(PointExport.objects.select_related("campaign"), pk=pk)
        charset = "shift_jis" if export.encoding == "cp932" else "utf-8"
        if export.line_count <= SMALL_EXPORT_LINES:
            # Small files are checked whole first, so a mismatch is a clear message, not a broken download.
            try:
                content = point_export_render(export=export)
            except ExportTampered as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:missions_pointexport_changelist"))
            response = HttpResponse(content, content_type=f"text/csv; charset={charset}")
        else:
            response = StreamingHttpResponse(
                point_export_stream(export=export), content_type=f"text/csv; charset={charset}"
            )
        response["Content-Disposition"] = f'attachment; filename="{point_export_filename(export=export)}"'
        return response
