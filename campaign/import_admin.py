"""Admin pages for transaction file imports (operations staff): upload, live progress, error report, history."""

from __future__ import annotations

import csv

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import compress_sequence
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaign.admin_display import GroupedNumbers
from campaign.imports.batches import imports_stale_fail
from campaign.imports.uploads import import_upload_create, rejections_csv_rows, report_encoding
from campaign.models import Campaign, ImportBatch, ImportStatus
from campaign.tasks import import_start

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Transaction file"),
        help_text=_("CSV (UTF-8 or CP932/Shift_JIS) or XLSX, one header row, column names in English or Japanese."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.PORTAL_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; the largest file the portal accepts is %(limit)s.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


def _rows_per_second(batch: ImportBatch) -> float | None:
    if not batch.started_at:
        return None
    end = batch.finished_at or timezone.now()
    seconds = (end - batch.started_at).total_seconds()
    return round(batch.rows_done / seconds, 1) if seconds > 0 else None


def _safe_cell(value: str) -> str:
    """Keep a spreadsheet from running a cell of the report as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(ImportBatch)
class ImportBatchAdmin(GroupedNumbers, admin.ModelAdmin):
    list_display = [
        "id",
        "batch_link",
        "status",
        "uploaded_by",
        "created_at",
        "rows_total",
        "accepted",
        "duplicates",
        "rejected",
        "duration",
        "sha256_short",
    ]
    list_display_links = None
    list_filter = ["status"]
    search_fields = ["file_name", "sha256"]
    list_select_related = ["uploaded_by"]
    date_hierarchy = "created_at"

    @admin.display(description=_("file"), ordering="file_name")
    def batch_link(self, batch: ImportBatch) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:campaign_importbatch_batch", args=[batch.pk]), batch)

    @admin.display(description=_("duration (s)"))
    def duration(self, batch: ImportBatch) -> str:
        seconds = batch.duration_seconds
        return f"{seconds:.1f}" if seconds is not None else "-"

    @admin.display(description=_("SHA-256"), ordering="sha256")
    def sha256_short(self, batch: ImportBatch) -> str:
        return batch.sha256[:12]

    # Imports are records of what happened: they are made by uploading and never edited.
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        own = [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="campaign_importbatch_upload"),
            path(
                "<int:batch_id>/batch/", self.admin_site.admin_view(self.batch_view), name="campaign_importbatch_batch"
            ),
            path(
                "<int:batch_id>/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="campaign_importbatch_progress",
            ),
            path(
                "<int:batch_id>/rejected.csv",
                self.admin_site.admin_view(self.rejections_view),
                name="campaign_importbatch_rejections",
            ),
        ]
        return own + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:campaign_importbatch_upload"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(reverse("admin:campaign_importbatch_batch", args=[object_id]))

    def _batch(self, request: HttpRequest, batch_id: int) -> ImportBatch:
        if not self.has_view_permission(request):
            raise PermissionDenied
        imports_stale_fail()  # beat does it every few minutes; the page need not wait for it (make run has none)
        return get_object_or_404(ImportBatch.objects.select_related("uploaded_by"), pk=batch_id)

    def upload_view(self, request: HttpRequest):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                campaign = Campaign.objects.current()
            except Campaign.DoesNotExist as exc:
                form.add_error(None, str(exc))
            else:
                batch, earlier = import_upload_create(
                    campaign=campaign, upload=form.cleaned_data["file"], user=request.user
                )
                import_start(batch.pk)
                if earlier is not None:
                    messages.warning(
                        request,
                        format_html(
                            gettext(
                                'This file was already imported on {} as <a href="{}">{}</a>: '
                                "importing it again changes nothing."
                            ),
                            timezone.localtime(earlier.created_at).strftime("%Y-%m-%d %H:%M"),
                            reverse("admin:campaign_importbatch_batch", args=[earlier.pk]),
                            earlier,
                        ),
                    )
                return HttpResponseRedirect(reverse("admin:campaign_importbatch_batch", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import transactions"),
            "opts": self.model._meta,
            "form": form,
            "max_size": settings.PORTAL_IMPORT_MAX_BYTES,
            "recent": ImportBatch.objects.select_related("uploaded_by")[:10],
        }
        return TemplateResponse(request, "admin/imports/upload.html", context)

    def batch_view(self, request: HttpRequest, batch_id: int):
        batch = self._batch(request, batch_id)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Transaction import %(batch)s") % {"batch": batch},
            "opts": self.model._meta,
            "batch": batch,
            "rows_per_second": _rows_per_second(batch),
            "finished": batch.status in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED),
            "rejections": batch.rejections.order_by("line")[:50],
            "can_upload": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/imports/batch.html", context)

    def progress_view(self, request: HttpRequest, batch_id: int):
        batch = self._batch(request, batch_id)
        finished = batch.status in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)
        return JsonResponse(
            {
                "id": batch.pk,
                "status": batch.status,
                "status_label": batch.get_status_display(),
                "finished": finished,
                "rows_done": batch.rows_done,
                "rows_total": batch.rows_total,
                "rows_per_second": _rows_per_second(batch),
                "accepted": batch.accepted,
                "duplicates": batch.duplicates,
                "rejected": batch.rejected,
                "message": batch.message,  # while running: how far the storing is
                "warnings": batch.warnings,
                "error_report_url": reverse("admin:campaign_importbatch_rejections", args=[batch.pk])
                if finished and batch.rejected
                else None,
            }
        )

    def rejections_view(self, request: HttpRequest, batch_id: int):
        """The rejected rows, streamed in the upload's encoding (CP932 stays CP932) and header language."""
        batch = self._batch(request, batch_id)
        writer = csv.writer(_Echo())
        encoding = report_encoding(batch)

        def lines():
            if encoding == "utf-8-sig":
                yield "\ufeff".encode()  # so that Excel opens the UTF-8 report with its Japanese text intact
            for row in rejections_csv_rows(batch=batch):
                # A character CP932 lacks (none the file itself held) becomes "?" rather than breaking the file.
                yield writer.writerow([_safe_cell(cell) for cell in row]).encode(
                    encoding.removesuffix("-sig"), "replace"
                )

        charset = "Windows-31J" if encoding == "cp932" else "utf-8"
        # A report of 500,000 rejected rows is 225 MB of CSV and a tenth of it compressed: sent gzipped
        # to a browser that takes it (every browser does), which saves it uncompressed.
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        body = compress_sequence(lines()) if gzipped else lines()
        response = StreamingHttpResponse(body, content_type=f"text/csv; charset={charset}")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-rejected.csv"'
        response["Vary"] = "Accept-Encoding"
        if gzipped:
            response["Content-Encoding"] = "gzip"
        return response
