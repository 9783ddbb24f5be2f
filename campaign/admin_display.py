"""How the back office shows things to staff: in Japanese, by title, with a Japan-time clock.

Shared by the admin modules of every app: lists over millions of rows, the simple-history pages
with our translated list, and columns for the foreign keys the models declare without a ``verbose_name`` (labelled here,
in the admin, so that no migration is needed for a label).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import models
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaign.models import Campaign
from campaign.services import rows_estimate


class CappedCountPaginator(Paginator):
    """Never counts millions of rows: counting 30 million transactions would take seconds on every page.

    On PostgreSQL a list the planner expects to hold more than CAP rows shows the planner's estimate
    (``rows_estimate``: milliseconds, no row read); a smaller one, and any list on SQLite, is counted
    exactly, at most CAP rows. Past the cap or the estimate the last pages may be out of reach or
    empty: a filter or a search (member, transaction id) finds the rest.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by().values("pk")
        estimate = rows_estimate(rows)
        if estimate is not None and estimate > self.CAP:
            return estimate
        return rows[: self.CAP].count()


class BigTableAdmin(admin.ModelAdmin):
    """A list over millions of rows keyed by member: no full counts, no facets, exact member search."""

    show_full_result_count = False
    # Facet counts over millions of rows: never, even on request.
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator

    # True where the member's rows are found through a (campaign, member, …) index only.
    member_by_campaign = False

    def get_search_results(self, request, queryset, search_term):
        # An exact member id uses the index; a LIKE over millions of rows would not.
        term = search_term.strip()
        if not term:
            return queryset, False
        if self.member_by_campaign:  # campaign_id IN (…) lets PostgreSQL use that index's first column
            queryset = queryset.filter(campaign_id__in=list(Campaign.objects.values_list("pk", flat=True)))
        return queryset.filter(member_id=term), False


class HistoryAdmin(SimpleHistoryAdmin):
    """simple-history ships no Japanese: its change list comes from our template and catalogue."""

    object_history_list_template = "admin/simple_history/object_history_list.html"
    object_history_form_template = "admin/simple_history/object_history_form.html"


# Integer columns that are labels, not quantities: no separators (export №1234, rank 1024).
NOT_QUANTITIES = {"number", "rank", "order", "unit", "generation"}


class GroupedNumbers:
    """Integer columns of a list with thousands separators (6,800), as staff read amounts and points.

    Not through USE_THOUSAND_SEPARATOR: that would also group the numbers the special site's
    templates write into attributes and forms.
    """

    def get_list_display(self, request):
        return [self._grouped(name) for name in super().get_list_display(request)]

    def get_fieldsets(self, request, obj=None):
        """A page that only shows (no change permission) groups its numbers too; inputs stay plain."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [(title, {**options, "fields": self._grouped_all(options["fields"])}) for title, options in fieldsets]

    def _grouped_all(self, names):
        return [
            tuple(self._grouped_all(name)) if isinstance(name, (list, tuple)) else self._grouped(name) for name in names
        ]

    def _grouped(self, name):
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        if not isinstance(field, models.IntegerField) or field.primary_key or name in NOT_QUANTITIES:
            return name

        def column(obj) -> str:
            value = getattr(obj, name)
            return "—" if value is None else number_format(value, force_grouping=True)

        column.__name__ = name  # keeps the column's CSS class (field-amount)
        column.short_description = field.verbose_name
        column.admin_order_field = name
        return column


def filter_number(value: str | None) -> int | None:
    """A list filter's number from the URL (None: no filter). Anything else is refused as Django refuses a bad
    filter (the list again, unfiltered): ``int()`` of "²" or of 4,300 digits raises, and a bigint has 19."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 19):
        raise IncorrectLookupParameters(value)
    return int(value)


def titled(base: type[admin.FieldListFilter], title) -> type[admin.FieldListFilter]:
    """A list filter of a foreign key without a verbose name, titled here ("video で絞り込む" otherwise)."""

    class Titled(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


class LabelledColumns:
    """Columns for foreign keys without a verbose name (they would show as "Member", "Mission")."""

    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, obj) -> str:
        return obj.member_id

    @admin.display(description=_("campaign"))
    def campaign_column(self, obj) -> str:
        return str(obj.campaign)

    @admin.display(description=_("mission"))
    def mission_column(self, obj) -> str:
        return obj.mission.title if obj.mission_id else "—"

    @admin.display(description=_("video"))
    def video_column(self, obj) -> str:
        return obj.video.title

    @admin.display(description=_("point export"))
    def export_column(self, obj) -> str:
        return str(obj.export) if obj.export_id else "—"


def unlinked_column(model: type[models.Model], name: str):
    """A read-only foreign key shown by its name, as a ModelAdmin method (``<name>_column``).

    Django links a read-only foreign key to the related object's admin page whatever the viewer may
    open: a lottery officer would be sent to the campaign's or a user's page, which answers 403.
    """

    @admin.display(description=model._meta.get_field(name).verbose_name)
    def column(self, obj) -> str:
        related = getattr(obj, name)
        return str(related) if related is not None else self.get_empty_value_display()

    column.__name__ = f"{name}_column"
    return column


def ledger_reward_text(line) -> str:
    """What a ledger line rewards in words: 「動画を見る」クリア, 抽選の当選 (the stored reason is a code)."""
    if line.mission_id is None:
        if line.reward == "lottery":
            return gettext("lottery prize withdrawn") if line.kind == "reversal" else gettext("lottery prize")
        what = line.reward
    else:
        what = line.mission.title + (f" #{line.unit}" if line.unit != 1 else "")
    if line.kind == "reversal":
        return gettext('"%(what)s" withdrawn') % {"what": what}
    return gettext('"%(what)s" cleared') % {"what": what}
