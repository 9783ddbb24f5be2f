"""Lottery draws (SPEC R11): the commitment, the frozen eligible list, the result and forfeits.

A campaign has one draw (a one-to-one key). Once committed, a draw's commitment (seed, hashes,
eligible count) and, once drawn and confirmed, its result can never be changed or the draw
deleted: check constraints hold the state machine together and database triggers (migration
0001) refuse updates of frozen columns and deletes, whoever issues them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from campaign.models import Campaign, PointType


class DrawStatus(models.TextChoices):
    COMMITTED = "committed", _("committed")
    DRAWN = "drawn", _("drawn")
    CONFIRMED = "confirmed", _("confirmed")


class Draw(models.Model):
    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="draw", verbose_name=_("campaign"))
    status = models.CharField(_("status"), max_length=16, choices=DrawStatus.choices, default=DrawStatus.COMMITTED)
    winners_count = models.PositiveIntegerField(_("number of winners"))
    prize_points = models.PositiveIntegerField(_("prize (points)"))
    point_type = models.CharField(_("point type"), max_length=16, choices=PointType.choices)
    eligible_count = models.PositiveIntegerField(_("eligible members"))
    eligible_hash = models.CharField(_("eligible hash (SHA-256)"), max_length=64)
    # The 32 seed bytes as 64 lowercase hex characters; secret until the draw reveals it.
    seed = models.CharField(_("seed"), max_length=64)
    seed_hash = models.CharField(_("seed hash (SHA-256)"), max_length=64)
    cutoff_digest = models.CharField(
        _("cut-off digest"), max_length=64, blank=True, help_text=_("The digest of the last winner of the draw.")
    )
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("committed by")
    )
    committed_at = models.DateTimeField(_("committed at"))
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("drawn by"),
    )
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("draw")
        verbose_name_plural = _("draws")
        permissions = [("run_draw", gettext_noop("Can commit, draw, confirm and forfeit lottery draws"))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DrawStatus.values), name="draw_status_known"),
            models.CheckConstraint(condition=Q(winners_count__gte=1), name="draw_winners_positive"),
            models.CheckConstraint(
                condition=Q(
                    Exact(Length("seed"), 64), Exact(Length("seed_hash"), 64), Exact(Length("eligible_hash"), 64)
                ),
                name="draw_hashes_complete",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=DrawStatus.COMMITTED, drawn_by__isnull=True, drawn_at__isnull=True, cutoff_digest="")
                    | Q(
                        status__in=[DrawStatus.DRAWN, DrawStatus.CONFIRMED],
                        drawn_by__isnull=False,
                        drawn_at__isnull=False,
                    )
                ),
                name="draw_drawn_when_drawn",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=DrawStatus.CONFIRMED, confirmed_by__isnull=False, confirmed_at__isnull=False)
                    | Q(
                        status__in=[DrawStatus.COMMITTED, DrawStatus.DRAWN],
                        confirmed_by__isnull=True,
                        confirmed_at__isnull=True,
                    )
                ),
                name="draw_confirmed_when_confirmed",
            ),
            # Four eyes: whoever committed or drew the draw cannot confirm it.
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True)
                | (~Q(confirmed_by=F("committed_by")) & ~Q(confirmed_by=F("drawn_by"))),
                name="draw_confirmed_by_another_officer",
            ),
        ]

    def __str__(self) -> str:
        # Shown as the admin page's heading: the campaign's name and the status in words, not codes.
        return gettext("Draw #%(number)s, %(campaign)s (%(status)s)") % {
            "number": self.pk,
            "campaign": self.campaign,
            "status": self.get_status_display(),
        }

    @property
    def is_drawn(self) -> bool:
        return self.status in (DrawStatus.DRAWN, DrawStatus.CONFIRMED)


class Outcome(models.TextChoices):
    ELIGIBLE = "eligible", _("eligible (not drawn yet)")
    WINNER = "winner", _("winner")
    LOST = "lost", _("not drawn")
    FORFEITED = "forfeited", _("forfeited")
    REPLACEMENT = "replacement", _("replacement winner")


WINNING_OUTCOMES = (Outcome.WINNER, Outcome.REPLACEMENT)


class DrawEntrant(models.Model):
    """One member of the frozen eligible list; ``digest`` and ``rank`` are stored for the winners."""

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="entrants", verbose_name=_("draw"))
    member_id = models.CharField(_("member ID"), max_length=64)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.ELIGIBLE)
    digest = models.CharField(_("digest (HMAC-SHA256)"), max_length=64, blank=True)
    rank = models.PositiveIntegerField(_("rank in digest order"), null=True, blank=True)

    class Meta:
        verbose_name = _("eligible member")
        verbose_name_plural = _("eligible members")
        constraints = [
            models.UniqueConstraint(fields=["draw", "member_id"], name="draw_entrant_once"),
            models.UniqueConstraint(fields=["draw", "rank"], name="draw_entrant_rank_once"),
            models.CheckConstraint(condition=Q(outcome__in=Outcome.values), name="draw_entrant_outcome_known"),
        ]
        indexes = [models.Index(fields=["draw", "outcome"], name="draw_entrant_outcome")]

    def __str__(self) -> str:
        return f"{self.member_id} ({self.get_outcome_display()})"


class ForfeitStatus(models.TextChoices):
    PENDING = "pending", _("waiting for confirmation")
    CONFIRMED = "confirmed", _("confirmed")


class Forfeit(models.Model):
    """A winner who forfeits, and the next member in digest order who replaces them.

    Recorded by one lottery officer and confirmed by another, like the draw; only the
    confirmation moves the prize (a reversal for the forfeiter, an award for the replacement).
    """

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="forfeits", verbose_name=_("draw"))
    number = models.PositiveIntegerField(_("number"))
    member_id = models.CharField(_("forfeiting member ID"), max_length=64)
    replacement_member_id = models.CharField(
        _("replacement member ID"),
        max_length=64,
        blank=True,
        help_text=_("Empty when no eligible member is left to replace the winner."),
    )
    replacement_digest = models.CharField(_("replacement digest"), max_length=64, blank=True)
    replacement_rank = models.PositiveIntegerField(_("replacement rank"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=16, choices=ForfeitStatus.choices, default=ForfeitStatus.PENDING)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("forfeit")
        verbose_name_plural = _("forfeits")
        ordering = ["draw", "number"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "number"], name="forfeit_number_once"),
            models.UniqueConstraint(fields=["draw", "member_id"], name="forfeit_member_once"),
            models.UniqueConstraint(
                fields=["draw", "replacement_member_id"],
                condition=~Q(replacement_member_id=""),
                name="forfeit_replacement_once",
            ),
            # One forfeit at a time waits for its second officer, so the digest walk stays linear.
            models.UniqueConstraint(
                fields=["draw"], condition=Q(status=ForfeitStatus.PENDING), name="forfeit_one_pending"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="forfeit_reason_given"),
            models.CheckConstraint(
                condition=(
                    Q(status=ForfeitStatus.PENDING, confirmed_by__isnull=True, confirmed_at__isnull=True)
                    | Q(status=ForfeitStatus.CONFIRMED, confirmed_by__isnull=False, confirmed_at__isnull=False)
                ),
                name="forfeit_confirmed_when_confirmed",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=F("recorded_by")),
                name="forfeit_confirmed_by_another_officer",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.member_id} → {self.replacement_member_id or '—'}"
