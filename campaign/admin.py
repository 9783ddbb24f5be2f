"""The back office for campaigns, members, entries and transactions, the dashboard and the staff action log."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

# The user and group pages, django-axes' records named in Japanese, the transaction import pages.
from campaign import admin_auth, admin_axes, import_admin  # noqa: F401
from campaign.admin_display import (
    BigTableAdmin,
    GroupedNumbers,
    LabelledColumns,
    filter_number,
    ledger_reward_text,
    titled,
    unlinked_column,
)
from campaign.audit import staff_action_record
from campaign.dashboard import dashboard_figures_cached
from campaign.dashboard_charts import dashboard_charts, dashboard_rows, forecast_note
from campaign.imports.entries import entry_create
from campaign.models import (
    Campaign,
    Entry,
    EntrySource,
    ImportBatch,
    Member,
    PointType,
    Transaction,
    TransactionType,
    VideoView,
)
from campaign.services import Refused
from campaign.spreadsheet import row_escape
from merchants.models import Merchant
from missions.models import Course, LedgerLine, Mission
from missions.services import members_score, progress_document, transactions_explained

# The back office names the campaign's portal, not the framework ("Django 管理サイト").
admin.site.site_header = _("Wesmo! Stamp Rally Mission back office")
admin.site.site_title = _("Wesmo! back office")
admin.site.index_title = _("Campaign administration")


DASHBOARD_PERMISSION = "campaign.view_dashboard"
RESCORE_PERMISSION = "missions.rescore_member"
MEMBER_PAGE_TRANSACTIONS = 200  # the newest; the transaction list has them all


@admin.register(Campaign)
class CampaignAdmin(GroupedNumbers, admin.ModelAdmin):
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
        (_("Budget"), {"fields": ["points_budget"]}),
    ]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="campaign_dashboard"),
            path("dashboard/figures.csv", view(self.dashboard_csv_view), name="campaign_dashboard_csv"),
            path(
                "dashboard/<slug:chart>.csv", view(self.dashboard_chart_csv_view), name="campaign_dashboard_chart_csv"
            ),
            *super().get_urls(),
        ]

    def _dashboard_campaign(self, request: HttpRequest) -> Campaign:
        if not request.user.has_perm(DASHBOARD_PERMISSION):
            raise PermissionDenied
        code = request.GET.get("campaign")
        if code:
            return get_object_or_404(Campaign, code=code)
        return Campaign.objects.current()

    def _dashboard(self, request: HttpRequest, *, wait: bool = True):
        campaign = self._dashboard_campaign(request)
        figures = dashboard_figures_cached(campaign=campaign, refresh="refresh" in request.GET, wait=wait)
        return campaign, figures, dashboard_charts(campaign=campaign, figures=figures) if figures else []

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        campaign, figures, charts = self._dashboard(request, wait=False)
        if figures is None:  # the first figures are being computed by a worker: a page that reloads
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Campaign dashboard"),
                "opts": self.opts,
            }
            return TemplateResponse(request, "admin/campaign/dashboard_pending.html", {**context, "campaign": campaign})
        forecast = figures.forecast
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Campaign dashboard"),
            "campaign": campaign,
            "figures": figures,
            "charts": charts,
            "points_labels": [(PointType(t).label, total) for t, total in figures.points_total.items()],
            "forecast_total": (forecast.end_expected + figures.lottery_points) if forecast else None,
            "forecast_note": forecast_note(figures),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/campaign/dashboard.html", context)

    def _csv(self, filename: str, rows) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.write("\ufeff")  # Excel in Japan reads UTF-8 only with a BOM
        csv.writer(response).writerows(map(row_escape, rows))  # labels are staff-edited text
        return response

    def dashboard_csv_view(self, request: HttpRequest) -> HttpResponse:
        campaign, _figures, charts = self._dashboard(request)
        return self._csv(f"dashboard-{campaign.code}.csv", dashboard_rows(charts))

    def dashboard_chart_csv_view(self, request: HttpRequest, chart: str) -> HttpResponse:
        campaign, _figures, charts = self._dashboard(request)
        found = next((c for c in charts if c.key == chart), None)
        if found is None:
            raise Http404(chart)
        return self._csv(f"dashboard-{campaign.code}-{chart}.csv", found.csv_rows())


@admin.register(Member)
class MemberAdmin(BigTableAdmin):
    """Operations look a member up by member id and see what the member sees, plus the ledger."""

    list_display = ["member_id", "user", "created_at"]
    search_fields = ["member_id"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]
    change_form_template = "admin/campaign/member/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        fields = [*self.readonly_fields]
        if obj is not None:
            fields.insert(0, "member_id")
        if not request.user.has_perm("auth.view_user"):
            fields.append("user_column")  # operations may not open users: no link that answers 403
        return fields

    def get_exclude(self, request, obj=None):
        # A read-only foreign key links to the user's page, whatever the viewer may open: shown as user_column.
        return None if request.user.has_perm("auth.view_user") else ["user"]

    user_column = unlinked_column(Member, "user")

    def has_delete_permission(self, request, obj=None):
        # A member is known from the Wesmo! system's records; the ledger keeps them (PROTECT).
        return False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/rescore/",
                self.admin_site.admin_view(self.rescore_view),
                name="campaign_member_rescore",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        member = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if member is not None:
            extra_context.update(member_panels(member=member))
            extra_context["can_rescore"] = request.user.has_perm(RESCORE_PERMISSION)
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(require_POST)
    def rescore_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(RESCORE_PERMISSION):
            raise PermissionDenied
        member = get_object_or_404(Member, pk=object_id)
        campaign = Campaign.objects.current()
        result = members_score(campaign=campaign, member_ids=[member.pk])
        staff_action_record(
            user=request.user,
            obj=member,
            message=gettext("Re-scored member %(member)s: %(stamps)s stamps changed, %(points)s points")
            % {"member": member.pk, "stamps": f"{result.stamps_changed:,}", "points": f"{result.points_delta:+,d}"},
        )
        self.message_user(
            request,
            gettext("Re-scored %(member)s: %(stamps)d stamps changed, %(points)+d points.")
            % {"member": member.pk, "stamps": result.stamps_changed, "points": result.points_delta},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:campaign_member_change", args=[member.pk]))


def member_panels(*, member: Member) -> dict:
    """What the member page shows besides the form: the stamp card, the ledger and the explained transactions."""
    campaign = Campaign.objects.current()
    explained = transactions_explained(campaign=campaign, member_id=member.pk)
    lines = list(
        LedgerLine.objects.filter(campaign=campaign, member=member).select_related("export", "mission").order_by("id")
    )
    for line in lines:
        line.reward_text = ledger_reward_text(line)
    return {
        "campaign": campaign,
        "progress": progress_document(campaign=campaign, member_id=member.pk),
        "ledger_lines": lines,
        "explained": explained[:MEMBER_PAGE_TRANSACTIONS],
        "explained_count": len(explained),
        # The documents name missions and courses by code; staff read them by title.
        "mission_titles": {m.code: m.title for m in Mission.objects.filter(campaign=campaign)},
        "course_names": {c.code: c.name for c in Course.objects.filter(campaign=campaign)},
    }


class EntryCreateForm(forms.Form):
    member_id = forms.CharField(label=_("member ID"), max_length=64)
    entered_at = forms.DateTimeField(
        label=_("entered at"),
        required=False,
        help_text=_("Japan time, e.g. 2026-03-10 12:00. Empty: now. It must lie in the entry window."),
    )


@admin.register(Entry)
class EntryAdmin(LabelledColumns, BigTableAdmin):
    """Entries are made by the member (app, site); operations can enter a member on request, by the same rules."""

    list_display = ["member", "campaign", "entered_at", "source", "received_at"]
    list_filter = ["campaign", "source", ("entered_at", admin.DateFieldListFilter)]
    search_fields = ["member__member_id"]
    raw_id_fields = ["member"]
    list_select_related = ["campaign", "member"]

    def get_readonly_fields(self, request, obj=None):
        # An entry is a fact the member created: it is shown, not edited. The campaign by its name: Django
        # links a read-only foreign key whatever the viewer may open, and the campaign's page answers 403.
        if obj is None:
            return []
        return ["campaign_column" if f.name == "campaign" else f.name for f in self.opts.fields]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj is not None else super().get_fields(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        """Enter a member through ``entry_create`` (R2: one entry, inside the entry window, then scored)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        campaign = Campaign.objects.current()
        form = EntryCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry, created = entry_create(
                    campaign=campaign,
                    member_id=form.cleaned_data["member_id"],
                    entered_at=form.cleaned_data["entered_at"],
                    source=EntrySource.ADMIN,
                )
            except Refused as refused:
                form.add_error(None, refused.message)
            else:
                if created:
                    staff_action_record(
                        user=request.user,
                        obj=entry,
                        message=gettext("Entered member %(member)s") % {"member": entry.member_id},
                        action_flag=ADDITION,
                    )
                    self.message_user(request, gettext("%(member)s is entered.") % {"member": entry.member_id})
                else:
                    self.message_user(
                        request,
                        gettext("%(member)s had already entered.") % {"member": entry.member_id},
                        messages.WARNING,
                    )
                return HttpResponseRedirect(reverse("admin:campaign_entry_change", args=[entry.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Enter a member"),
            "opts": self.opts,
            "form": form,
            "campaign": campaign,
        }
        return TemplateResponse(request, "admin/campaign/entry/create.html", context)


class VoidFilter(admin.SimpleListFilter):
    """A transaction named by a cancel counts for nothing (R8)."""

    title = _("void (cancelled)")
    parameter_name = "void"

    def lookups(self, request, model_admin):
        return [("yes", _("voided by a cancel")), ("no", _("not voided"))]

    def queryset(self, request, queryset):
        cancelled = Exists(
            Transaction.objects.filter(type=TransactionType.CANCEL, original_transaction_id=OuterRef("transaction_id"))
        )
        if self.value() == "yes":
            return queryset.filter(cancelled)
        if self.value() == "no":
            return queryset.filter(~cancelled)
        return queryset


class BonusMerchantFilter(admin.SimpleListFilter):
    """Payments at a merchant of the bonus list (active, R7)."""

    title = _("bonus merchant")
    parameter_name = "bonus"

    def lookups(self, request, model_admin):
        return [("yes", _("at a bonus merchant")), ("no", _("elsewhere"))]

    def queryset(self, request, queryset):
        # The codes themselves, not a subquery: the planner then reads their share of the payments from
        # the column's statistics and walks the newest first (50 ms), instead of expecting a handful
        # and sorting every bonus payment of 30 million transactions (seconds).
        bonus_codes = list(Merchant.objects.bonus().values_list("code", flat=True))
        if self.value() == "yes":
            return queryset.filter(type=TransactionType.PAYMENT, merchant_code__in=bonus_codes)
        if self.value() == "no":
            return queryset.filter(type=TransactionType.PAYMENT).exclude(merchant_code__in=bonus_codes)
        return queryset


class ImportBatchFilter(admin.SimpleListFilter):
    """The last imports, read from the import table (not a DISTINCT over 30 million transactions)."""

    title = _("import")
    parameter_name = "import_batch"
    LAST = 30

    def lookups(self, request, model_admin):
        batches = ImportBatch.objects.order_by("-created_at").values_list("pk", "file_name")[: self.LAST]
        return [(str(pk), f"#{pk} {name}") for pk, name in batches]

    def queryset(self, request, queryset):
        number = filter_number(self.value())
        return queryset if number is None else queryset.filter(import_batch_id=number)


@admin.register(Transaction)
class TransactionAdmin(GroupedNumbers, LabelledColumns, BigTableAdmin):
    """Read-only: transactions are what the Wesmo! system recorded; nobody edits or deletes them here."""

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
        "import_column",
    ]
    list_filter = [
        "type",
        ("occurred_at", admin.DateFieldListFilter),
        VoidFilter,
        BonusMerchantFilter,
        "source",
        ImportBatchFilter,
    ]
    search_fields = ["transaction_id", "member__member_id"]
    search_help_text = _("Exact transaction ID, member ID or original transaction ID.")
    raw_id_fields = ["member", "import_batch"]
    readonly_fields = ["campaign_column"]
    # 30 million rows: never count them all.
    list_per_page = 100
    # Newest received first, along the primary key: sorting 30 million rows by time would not be.
    ordering = ["-id"]

    def get_search_results(self, request, queryset, search_term):
        # Exact matches on indexed columns (no LIKE/UPPER scans over 30 million rows).
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(
            Q(transaction_id=term) | Q(member_id=term) | Q(type=TransactionType.CANCEL, original_transaction_id=term)
        ), False

    @admin.display(description=_("import"), ordering="import_batch_id")
    def import_column(self, obj: Transaction) -> str:
        """The import by its number, linked to its page (the file name would take a fifth of the list's width)."""
        if obj.import_batch_id is None:
            return self.get_empty_value_display()
        url = reverse("admin:campaign_importbatch_batch", args=[obj.import_batch_id])
        return format_html('<a href="{}">#{}</a>', url, obj.import_batch_id)

    def get_fields(self, request, obj=None):
        # The campaign by its name, where Django would link it: the campaign's page answers 403 to operations.
        fields = super().get_fields(request, obj)
        return list(dict.fromkeys("campaign_column" if name == "campaign" else name for name in fields))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(VideoView)
class VideoViewAdmin(LabelledColumns, BigTableAdmin):
    """Recorded by the app and the special site when a member watched a video to the end: shown, not edited."""

    list_display = ["member_column", "video_column", "watched_at", "source"]
    list_filter = [("video", titled(admin.RelatedFieldListFilter, _("video"))), "source"]
    search_fields = ["member__member_id"]
    list_select_related = ["video", "campaign"]
    fields = ["member_column", "video_column", "campaign_column", "watched_at", "source", "received_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LogEntry)
class StaffActionAdmin(admin.ModelAdmin):
    """Every staff action with its actor (edits, imports, exports, re-scores, draws): for superusers, read-only."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change_message"]
    # Only the kinds of records that have entries: not the ~40 content types of every installed app.
    list_filter = [
        "action_flag",
        ("content_type", admin.RelatedOnlyFieldListFilter),
        ("action_time", admin.DateFieldListFilter),
    ]
    search_fields = ["object_repr", "change_message", "user__username"]
    list_select_related = ["user", "content_type"]
    date_hierarchy = "action_time"

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
