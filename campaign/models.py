"""Campaigns, members, entries and the records the Wesmo! system sends (transactions, video views)."""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _


def localized(obj: object, field: str) -> str:
    """The Japanese or English variant of ``field`` (``title_ja`` / ``title_en``) for the active language."""
    lang = (get_language() or "ja")[:2]
    value = getattr(obj, f"{field}_{lang}", "") if lang in ("ja", "en") else ""
    return value or getattr(obj, f"{field}_ja", "")


class PointType(models.TextChoices):
    LIMITED = "limited", _("Limited-period points (期間・用途限定)")
    BASIC = "basic", _("Basic points (基本)")


# The current campaign is read by every stamp card and progress API call but edited a few times
# a campaign: current_kept() keeps it per process for CURRENT_KEPT_SECONDS, as missions.progress
# keeps the courses and missions. A save or delete in this process forgets it at once
# (campaign.apps connects current_forget to the signals); other processes see an edit within
# the TTL. Each caller gets its own copy, so nothing one request caches on it reaches another.
CURRENT_KEPT_SECONDS = 30.0
_current_lock = threading.Lock()
_current_kept: tuple[float, Campaign] | None = None


def current_forget(*args, **kwargs) -> None:
    global _current_kept
    with _current_lock:
        _current_kept = None


class CampaignQuerySet(models.QuerySet):
    def current(self) -> Campaign:
        """The campaign the portal runs: the active one that started last."""
        campaign = self.filter(is_active=True).order_by("-starts_at").first()
        if campaign is None:
            raise Campaign.DoesNotExist("No active campaign: run `manage.py load_campaign`.")
        return campaign

    def current_kept(self) -> Campaign:
        """:meth:`current`, kept per process for up to CURRENT_KEPT_SECONDS (for the hot read paths)."""
        global _current_kept
        now = time.monotonic()
        kept = _current_kept
        if kept is None or now - kept[0] >= CURRENT_KEPT_SECONDS:
            kept = (now, self.current())
            with _current_lock:
                _current_kept = kept
        return copy.copy(kept[1])


class Campaign(models.Model):
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    tagline_ja = models.CharField(_("tagline (Japanese)"), max_length=200, blank=True)
    tagline_en = models.CharField(_("tagline (English)"), max_length=200, blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    # The period is half-open: [starts_at, ends_at) (SPEC R1).
    starts_at = models.DateTimeField(_("period starts at"))
    ends_at = models.DateTimeField(_("period ends at (exclusive)"))
    entry_starts_at = models.DateTimeField(_("entry window starts at"))
    entry_ends_at = models.DateTimeField(_("entry window ends at (exclusive)"))
    data_cutoff_at = models.DateTimeField(_("data cut-off"), help_text=_("Records are accepted until this time (R9)."))
    lottery_winners = models.PositiveIntegerField(_("lottery winners"), default=77)
    lottery_prize_points = models.PositiveIntegerField(_("lottery prize (points)"), default=5000)
    lottery_point_type = models.CharField(
        _("lottery point type"), max_length=16, choices=PointType.choices, default=PointType.BASIC
    )
    points_budget = models.PositiveBigIntegerField(
        _("points budget"),
        null=True,
        blank=True,
        help_text=_(
            "All the points the campaign may award (missions and lottery); the dashboard forecasts against it."
        ),
    )
    notes = models.JSONField(_("notes for customers"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(condition=models.Q(starts_at__lt=models.F("ends_at")), name="campaign_period_order"),
            models.CheckConstraint(
                condition=models.Q(entry_starts_at__lt=models.F("entry_ends_at")), name="campaign_entry_window_order"
            ),
            models.CheckConstraint(
                condition=models.Q(data_cutoff_at__gte=models.F("ends_at")), name="campaign_cutoff_after_period"
            ),
        ]

    def __str__(self) -> str:
        return self.name_ja or self.code

    @property
    def name(self) -> str:
        return localized(self, "name")

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            raise ValidationError({"ends_at": _("The period must end after it starts.")})
        if self.data_cutoff_at and self.ends_at and self.data_cutoff_at < self.ends_at:
            raise ValidationError({"data_cutoff_at": _("The data cut-off cannot be before the end of the period.")})

    def in_period(self, when: datetime) -> bool:
        return self.starts_at <= when < self.ends_at

    def in_entry_window(self, when: datetime) -> bool:
        return self.entry_starts_at <= when < self.entry_ends_at

    def accepts_data_at(self, when: datetime) -> bool:
        """Whether a record arriving at ``when`` is before the data cut-off (R9)."""
        return when <= self.data_cutoff_at


class Member(models.Model):
    """A Wesmo! member, keyed by the member id of the Wesmo! system.

    The member id is the primary key so that transaction files and pushes can reference
    members by the id they carry, with no look-up (the importer upserts members set-based).
    """

    member_id = models.CharField(_("member ID"), max_length=64, primary_key=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member",
        verbose_name=_("site login"),
    )
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return self.member_id


class EntrySource(models.TextChoices):
    APP = "app", _("Wesmo! app (system API)")
    SITE = "site", _("special site")
    ADMIN = "admin", _("back office")
    DEMO = "demo", _("demo data")


class Entry(models.Model):
    """A member's entry (エントリー) to a campaign: one per member and campaign (R2)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="entries", verbose_name=_("campaign"))
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="entries", verbose_name=_("member"))
    entered_at = models.DateTimeField(_("entered at"))
    source = models.CharField(_("source"), max_length=16, choices=EntrySource.choices, default=EntrySource.APP)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        constraints = [models.UniqueConstraint(fields=["campaign", "member"], name="entry_one_per_member")]
        indexes = [models.Index(fields=["campaign", "entered_at"], name="entry_campaign_day")]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.campaign_id}"


class TransactionType(models.TextChoices):
    CHARGE = "charge", _("charge (チャージ)")
    PAYMENT = "payment", _("payment (支払)")
    CANCEL = "cancel", _("cancel (取消)")


class ChargeMethod(models.TextChoices):
    CARD = "card", _("credit card")
    JWEST_CARD = "jwest_card", _("J-WEST card")
    SEVEN_ATM = "seven_atm", _("Seven Bank ATM")
    BANK = "bank", _("bank account")


class RecordSource(models.TextChoices):
    FILE = "file", _("file import")
    API = "api", _("system API")
    DEMO = "demo", _("demo data")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("waiting")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    REFUSED = "refused", _("refused")
    FAILED = "failed", _("failed")


class ImportBatch(models.Model):
    """One transaction file imported by operations staff (or by the command)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="imports", verbose_name=_("campaign"))
    file_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("stored file"), upload_to="imports/%Y/%m/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("uploaded by")
    )
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    message = models.TextField(_("message"), blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    rows_total = models.PositiveIntegerField(_("rows in file"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows processed"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When the import last saved its progress: one silent for long was lost (imports_stale_fail).
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    # How the file was written, so that its error report comes back the same way (CP932, Japanese headers).
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    japanese_header = models.BooleanField(_("Japanese header"), default=False)

    class Meta:
        verbose_name = _("transaction import")
        verbose_name_plural = _("transaction imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ImportRejection(models.Model):
    """A row of an import that was rejected, with its line number and reason."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejections")
    line = models.PositiveIntegerField(_("line"))
    transaction_id = models.CharField(_("transaction ID"), max_length=255, blank=True)
    reason = models.TextField(_("reason"))
    raw = models.JSONField(_("row as read"), default=dict, blank=True)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["batch", "line"]
        indexes = [models.Index(fields=["batch", "line"], name="rejection_batch_line")]

    def __str__(self) -> str:
        return gettext("line %(line)s: %(reason)s") % {"line": self.line, "reason": self.reason}


class Transaction(models.Model):
    """A charge, payment or cancel recorded by the Wesmo! system (SPEC 3.1).

    Stored as received; whether and how it counts is the scoring engine's judgement,
    so a cancel that arrives before its original still voids it (R8).

    This is the table of tens of millions of rows that imports write at COPY speed, so it
    carries only the indexes the reads need: the foreign keys to the campaign and the member
    are covered by the composite indexes, and are not enforced by the database row by row —
    the ingestion service upserts the members in the same transaction before it inserts
    their records (``campaign.imports``), which is what keeps them consistent.
    """

    transaction_id = models.CharField(_("transaction ID"), max_length=64)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("campaign"),
        db_index=False,
        db_constraint=False,
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("member"),
        db_column="member_id",
        db_index=False,
        db_constraint=False,
    )
    type = models.CharField(_("type"), max_length=8, choices=TransactionType.choices)
    amount = models.BigIntegerField(_("amount (yen)"))
    points_used = models.BigIntegerField(_("points used (yen)"), default=0)
    merchant_code = models.CharField(_("merchant code"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    original_transaction_id = models.CharField(_("original transaction ID"), max_length=64, blank=True)
    charge_method = models.CharField(_("charge method"), max_length=16, choices=ChargeMethod.choices, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=RecordSource.choices, default=RecordSource.API)
    # Indexed on PostgreSQL by a BRIN index (migration 0004): an import's rows lie together on disk,
    # so a few bytes per block range find them, where a B-tree cost a write per imported row.
    import_batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transactions",
        verbose_name=_("import"),
        db_constraint=False,
        db_index=False,
    )
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        indexes = [
            # The member alone: scoring reads all of a member's records and orders them itself, and
            # a B-tree of repeated keys keeps them in posting lists (a third of the size; an import
            # inserts a million rows 0.6 s faster than into (member, occurred_at)).
            models.Index(fields=["member"], name="tx_member"),
            models.Index(fields=["original_transaction_id"], name="tx_original", condition=models.Q(type="cancel")),
            # No B-tree on (campaign, occurred_at): it cost 3.7 s per million imported rows for the
            # admin's date filter alone; PostgreSQL has a BRIN index on occurred_at (migration 0004).
        ]
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL the latter adds a second
            # (LIKE-pattern) index that no query uses but every insert maintains.
            models.UniqueConstraint(fields=["transaction_id"], name="tx_transaction_id_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="tx_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(points_used__gte=0) & models.Q(points_used__lte=models.F("amount")),
                name="tx_points_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.transaction_id

    @property
    def eligible_amount(self) -> int:
        """What counts toward a mission (R5): a charge in full, a payment less the points used."""
        if self.type == TransactionType.PAYMENT:
            return self.amount - self.points_used
        return self.amount


class VideoView(models.Model):
    """A member watched one of the campaign videos to the end (mission mania-1)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="video_views")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="video_views", db_column="member_id")
    video = models.ForeignKey("missions.Video", on_delete=models.PROTECT, related_name="views")
    watched_at = models.DateTimeField(_("watched at"))
    source = models.CharField(_("source"), max_length=16, choices=EntrySource.choices, default=EntrySource.APP)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("video view")
        verbose_name_plural = _("video views")
        constraints = [models.UniqueConstraint(fields=["campaign", "member", "video"], name="video_view_once")]

    def __str__(self) -> str:
        return gettext("%(member)s watched %(video)s") % {"member": self.member_id, "video": self.video.title}
