"""Courses, missions (the rules as data), videos, stamps, stamp cards and the points ledger."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from campaign.models import Campaign, Member, PointType, localized
from missions.kinds import KIND_CHOICES, KINDS, Kind


class Course(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="courses", verbose_name=_("campaign"))
    code = models.SlugField(_("code"), max_length=32)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["campaign", "order"]
        constraints = [models.UniqueConstraint(fields=["campaign", "code"], name="course_code_unique")]

    def __str__(self) -> str:
        return self.name_ja or self.code

    @property
    def name(self) -> str:
        return localized(self, "name")


class Mission(models.Model):
    """One mission, its rule as data (R6): marketing edits thresholds, windows and rewards here."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="missions", verbose_name=_("campaign")
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="missions", verbose_name=_("course"))
    code = models.SlugField(_("code"), max_length=32)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    label_ja = models.CharField(_("label (Japanese)"), max_length=50, blank=True, help_text=_("e.g. ミッション①"))
    label_en = models.CharField(_("label (English)"), max_length=50, blank=True)
    title_ja = models.CharField(_("title (Japanese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)

    kind = models.CharField(_("counts"), max_length=32, choices=KIND_CHOICES)
    min_amount = models.PositiveIntegerField(
        _("minimum eligible amount (yen)"),
        default=0,
        help_text=_("One record counts when its eligible amount is at least this (0: any amount above zero)."),
    )
    target_count = models.PositiveIntegerField(_("target count"), default=1)
    window_start = models.TimeField(_("time window from (JST, inclusive)"), null=True, blank=True)
    window_end = models.TimeField(_("time window until (JST, exclusive)"), null=True, blank=True)
    weekdays = models.JSONField(
        _("weekdays"),
        default=list,
        blank=True,
        help_text=_("ISO weekday numbers, 1 = Monday … 7 = Sunday; empty = every day."),
    )
    bonus_merchants_only = models.BooleanField(_("bonus merchants only"), default=False)
    requires = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="required_by",
        verbose_name=_("requires (completion missions)"),
    )

    reward_points = models.PositiveIntegerField(_("reward (points)"))
    unit_points = models.PositiveIntegerField(
        _("points per unit"),
        null=True,
        blank=True,
        help_text=_("When set, every unit counted earns this many points, up to the target (the video mission)."),
    )
    point_type = models.CharField(_("point type"), max_length=16, choices=PointType.choices, default=PointType.LIMITED)
    counts_for_lottery = models.BooleanField(
        _("required for the lottery"),
        default=False,
        help_text=_("The lottery draws among members who cleared all these."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(m2m_fields=[requires])

    class Meta:
        verbose_name = _("mission")
        verbose_name_plural = _("missions")
        ordering = ["campaign", "course__order", "order"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="mission_code_unique"),
            models.CheckConstraint(condition=models.Q(target_count__gte=1), name="mission_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title_ja}"

    @property
    def title(self) -> str:
        return localized(self, "title")

    @property
    def label(self) -> str:
        return localized(self, "label")

    @property
    def description(self) -> str:
        return localized(self, "description")

    @property
    def max_points(self) -> int:
        if self.unit_points:
            return self.unit_points * self.target_count
        return self.reward_points

    @property
    def kind_def(self) -> Kind:
        return KINDS[self.kind]

    def clean(self) -> None:
        """The parameters as this kind of mission reads them (``missions.kinds``)."""
        if self.kind not in KINDS:
            return  # the field's choices report it
        errors = self.kind_def.clean(self)
        if errors:
            raise ValidationError(errors)


class Video(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="videos", verbose_name=_("campaign"))
    code = models.SlugField(_("code"), max_length=32)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title_ja = models.CharField(_("title (Japanese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    static_path = models.CharField(_("video file (static path)"), max_length=200)
    poster_path = models.CharField(_("poster image (static path)"), max_length=200, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"))

    class Meta:
        verbose_name = _("video")
        verbose_name_plural = _("videos")
        ordering = ["campaign", "order"]
        constraints = [models.UniqueConstraint(fields=["campaign", "code"], name="video_code_unique")]

    def __str__(self) -> str:
        return self.code

    @property
    def title(self) -> str:
        return localized(self, "title")


class StampCard(models.Model):
    """A member's scored state for a campaign: the summary the stamp card and the dashboard read.

    Written by the scoring engine for every member it scores, entered or not (a member who
    has not entered sees what they would already have earned, R2).
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="stamp_cards", db_constraint=False, db_index=False
    )
    member = models.ForeignKey(  # found through stamp_card_unique (campaign, member)
        Member,
        on_delete=models.CASCADE,
        related_name="stamp_cards",
        db_column="member_id",
        db_constraint=False,
        db_index=False,
    )
    entered = models.BooleanField(_("entered"), default=False)
    stamps_cleared = models.PositiveSmallIntegerField(_("stamps cleared"), default=0)
    points_limited = models.IntegerField(_("limited points"), default=0)
    points_basic = models.IntegerField(_("basic points"), default=0)
    lottery_eligible = models.BooleanField(_("lottery eligible"), default=False)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stamp card")
        verbose_name_plural = _("stamp cards")
        constraints = [models.UniqueConstraint(fields=["campaign", "member"], name="stamp_card_unique")]
        # A re-score writes every card, and each index costs a write per card: the lottery's count
        # and draw read the eligible cards only (a partial index of those); the dashboard's and the
        # admin's counts by stamps cleared read the cards anyway.
        indexes = [
            models.Index(fields=["campaign"], name="card_lottery", condition=models.Q(lottery_eligible=True)),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} ({self.stamps_cleared})"


class Stamp(models.Model):
    """A member's progress on one mission (R4)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="stamps", db_constraint=False, db_index=False
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="stamps",
        db_column="member_id",
        db_constraint=False,
        db_index=False,
    )
    mission = models.ForeignKey(
        Mission, on_delete=models.CASCADE, related_name="stamps", db_constraint=False, db_index=False
    )
    progress = models.PositiveIntegerField(_("progress"), default=0)
    target = models.PositiveIntegerField(_("target"), default=1)
    cleared = models.BooleanField(_("cleared"), default=False)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    # Not indexed: every index is written for each of the millions of stamps a re-score touches, and
    # only deleting a record (rare, staff only) looks stamps up by the record that cleared them.
    cleared_by_transaction = models.ForeignKey(
        "campaign.Transaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    cleared_by_video_view = models.ForeignKey(
        "campaign.VideoView",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stamp")
        verbose_name_plural = _("stamps")
        # One index only: a re-score writes a million stamps and each index costs a write per stamp.
        # The dashboard's per-mission counts read them all anyway (and are cached).
        constraints = [models.UniqueConstraint(fields=["member", "mission"], name="stamp_one_per_mission")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.mission_id} {self.progress}/{self.target}"


LOTTERY_REWARD = "lottery"  # the ledger's reward name of the lottery prize (the lottery app writes it)


class LedgerKind(models.TextChoices):
    AWARD = "award", _("award")
    REVERSAL = "reversal", _("reversal")


class PointExport(models.Model):
    """A numbered export of ledger lines for the WESTER point system (R12)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="point_exports")
    number = models.PositiveIntegerField(_("export number"))
    encoding = models.CharField(_("encoding"), max_length=16, default="utf-8")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    points_total = models.BigIntegerField(_("points in total"), default=0)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("point export")
        verbose_name_plural = _("point exports")
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="point_export_number_unique")]

    def __str__(self) -> str:
        return f"#{self.number}"


class LedgerLine(models.Model):
    """An append-only line of the points ledger (R10): an award or its reversal.

    ``reward`` names what is rewarded (a mission code, or ``lottery``), ``unit`` the unit
    of a per-unit reward (the video number), ``generation`` how many times this reward has
    been awarded before (an award withdrawn by a cancel and earned again is generation 2).
    The unique constraint makes a second award of the same reward impossible, whatever
    retries, re-imports or concurrent tasks do.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="ledger_lines", db_constraint=False, db_index=False
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="ledger_lines",
        db_column="member_id",
        db_constraint=False,
        db_index=False,
    )
    mission = models.ForeignKey(
        Mission,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_lines",
        db_constraint=False,
        db_index=False,
    )
    reward = models.CharField(_("reward"), max_length=32)
    unit = models.PositiveSmallIntegerField(_("unit"), default=1)
    generation = models.PositiveSmallIntegerField(_("generation"), default=1)
    kind = models.CharField(_("kind"), max_length=16, choices=LedgerKind.choices)
    points = models.IntegerField(_("points"))
    point_type = models.CharField(_("point type"), max_length=16, choices=PointType.choices)
    reason = models.CharField(_("reason"), max_length=200)
    occurred_at = models.DateTimeField(_("occurred at"), help_text=_("When the mission was cleared or withdrawn."))
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    export = models.ForeignKey(
        PointExport, on_delete=models.PROTECT, null=True, blank=True, related_name="lines", db_index=False
    )

    class Meta:
        verbose_name = _("ledger line")
        verbose_name_plural = _("ledger lines")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member", "reward", "unit", "generation", "kind"], name="ledger_line_once"
            ),
        ]
        # A member's lines are found through ledger_line_once (campaign, member, …); exported lines by
        # export. The lines not exported yet are few after each export, and "not exported" (the admin's
        # filter, the export's count and update) must not walk 9 million exported lines to find them
        # (1.9 s at national scale): their own partial index, appended to in id order as scoring writes.
        indexes = [
            models.Index(fields=["export"], name="ledger_export", condition=Q(export__isnull=False)),
            models.Index(fields=["id"], name="ledger_unexported", condition=Q(export__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.reward} {self.points:+d}"


class ScoringDue(models.Model):
    """A member whose records changed since the last scoring: the scoring outbox.

    Written in the same transaction as the records (a push, an import, an entry, a video view), so
    a record is never stored without its member being due, whatever happens to the task queued for
    it (broker down, worker killed, task lost). The scorer deletes the rows it locked when it started
    a chunk; a row written meanwhile survives for the next run. A periodic sweep scores what stays due.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    member_id = models.CharField(_("member ID"), max_length=64)
    since = models.DateTimeField(_("due since"))

    class Meta:
        verbose_name = _("member due for scoring")
        verbose_name_plural = _("members due for scoring")
        constraints = [models.UniqueConstraint(fields=["campaign", "member_id"], name="scoring_due_once")]
        indexes = [models.Index(fields=["since"], name="scoring_due_since")]

    def __str__(self) -> str:
        return f"{self.member_id} due since {self.since}"
