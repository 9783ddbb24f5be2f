"""The draw in the back office, for the lottery group only (SPEC R11, §4).

Draws are never edited or deleted here: each step is a button that calls one service
(commit, draw, confirm, forfeit, confirm a forfeit), and the services refuse what R11 forbids.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaign import clock
from campaign.admin_display import GroupedNumbers, unlinked_column
from campaign.audit import staff_action_record
from campaign.models import Campaign
from campaign.services import Refused
from lottery import services, verification
from lottery.confirmations import (
    CONFIRM_FIELD,
    StepConfirmation,
    confirmation_of_confirm,
    confirmation_of_draw,
    confirmation_of_forfeit,
    confirmation_of_forfeit_confirm,
)
from lottery.models import WINNING_OUTCOMES, Draw, DrawEntrant, Forfeit, ForfeitStatus, Outcome


class ForfeitForm(forms.Form):
    member_id = forms.CharField(label=_("Winner's member ID"), max_length=64)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class CommitForm(forms.Form):
    # Every campaign, drawn or not: a second commit (another tab, a double click) is refused by the
    # service with a message that leads to the draw, not by the form with "not one of the choices".
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.all())


def _officer_required(request: HttpRequest) -> None:
    if not request.user.has_perm(services.PERMISSION):
        raise PermissionDenied


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Draw)
class DrawAdmin(GroupedNumbers, ReadOnlyAdmin):
    list_display = ["id", "campaign", "status", "eligible_count", "winners_count", "committed_at", "drawn_at"]
    list_filter = ["status"]
    list_select_related = ["campaign"]
    change_form_template = "admin/lottery/draw/change_form.html"
    fields = [
        "campaign_column",
        "status",
        "winners_count",
        "prize_points",
        "point_type",
        "eligible_count",
        "eligible_hash",
        "seed_hash",
        "revealed_seed",
        "cutoff_digest",
        "committed_by_column",
        "committed_at",
        "drawn_by_column",
        "drawn_at",
        "confirmed_by_column",
        "confirmed_at",
    ]
    readonly_fields = fields
    # By name, not linked: the lottery group may not open campaigns or users (403).
    campaign_column = unlinked_column(Draw, "campaign")
    committed_by_column = unlinked_column(Draw, "committed_by")
    drawn_by_column = unlinked_column(Draw, "drawn_by")
    confirmed_by_column = unlinked_column(Draw, "confirmed_by")

    @admin.display(description=_("seed"))
    def revealed_seed(self, obj: Draw) -> str:
        # The seed stays secret until the draw, in the back office too.
        return obj.seed if obj.is_drawn else gettext("(secret until the draw)")

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(services.PERMISSION)

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:lottery_draw_commit"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("commit/", view(self.commit_view), name="lottery_draw_commit"),
            path("<int:draw_id>/draw/", view(self.draw_view), name="lottery_draw_draw"),
            path("<int:draw_id>/confirm/", view(self.confirm_view), name="lottery_draw_confirm"),
            path("<int:draw_id>/forfeit/", view(self.forfeit_view), name="lottery_draw_forfeit"),
            path(
                "<int:draw_id>/forfeits/<int:forfeit_id>/confirm/",
                view(self.forfeit_confirm_view),
                name="lottery_draw_forfeit_confirm",
            ),
            path("<int:draw_id>/winners.csv", view(self.export_view), name="lottery_draw_export"),
            path("<int:draw_id>/eligible.txt", view(self.eligible_view), name="lottery_draw_eligible"),
            *super().get_urls(),
        ]

    def _change_url(self, draw_id: int) -> str:
        return reverse("admin:lottery_draw_change", args=[draw_id])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        draw = get_object_or_404(Draw, pk=object_id)
        extra = {
            "is_officer": request.user.has_perm(services.PERMISSION),
            "draw": draw,
            # Fewer eligible than winners: all of them win, and the page says how many.
            "winners_to_draw": min(draw.winners_count, draw.eligible_count),
            "winners": list(draw.entrants.filter(outcome__in=[*WINNING_OUTCOMES, Outcome.FORFEITED]).order_by("rank"))
            if draw.is_drawn
            else [],
            "forfeits": list(draw.forfeits.select_related("recorded_by", "confirmed_by")),
            "pending_forfeit": draw.forfeits.filter(status=ForfeitStatus.PENDING).first(),
            "forfeit_form": ForfeitForm(),
            # Recomputing reads every stamp of the campaign: only when asked for.
            "verification": verification.draw_verify(draw=draw) if request.GET.get("verify") else None,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def _step(
        self,
        request: HttpRequest,
        draw_id: int,
        check,
        step,
        done: str,
        *,
        confirm: StepConfirmation,
    ) -> HttpResponse:
        """Run an irreversible step once the officer has typed the id the confirmation page shows.

        ``check`` refuses first what ``step`` would refuse (four eyes, a step already taken, an id
        that is no winner), so no officer types an id only to be told they could not.
        """
        _officer_required(request)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(draw_id))
        draw = get_object_or_404(Draw, pk=draw_id)
        typed = request.POST.get(CONFIRM_FIELD, "").strip()
        if typed != confirm.expected:
            try:
                check(draw)
            except Refused as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(self._change_url(draw_id))
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": confirm.title,
                "draw": draw,
                "confirm": confirm,
                "confirm_field": CONFIRM_FIELD,
                "mistyped": bool(typed),
                "carried": [(k, v) for k, v in request.POST.items() if k not in {CONFIRM_FIELD, "csrfmiddlewaretoken"}],
            }
            return TemplateResponse(request, "admin/lottery/draw/step_confirm.html", context)
        try:
            step(draw)
        except Refused as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(draw_id))

    def commit_view(self, request: HttpRequest) -> HttpResponse:
        _officer_required(request)
        form = CommitForm(request.POST or None)
        if not request.POST:
            current = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
            drawn = services.draw_for_campaign(campaign=current) if current else None
            if drawn is not None:
                self.message_user(
                    request, gettext("This campaign already has its draw; a draw is never replaced."), messages.INFO
                )
                return HttpResponseRedirect(self._change_url(drawn.pk))
            form = CommitForm(initial={"campaign": current})
        if request.method == "POST" and form.is_valid():
            try:
                draw = services.draw_commit(campaign=form.cleaned_data["campaign"], user=request.user)
            except Refused as exc:
                self.message_user(request, exc.message, messages.ERROR)
                drawn = services.draw_for_campaign(campaign=form.cleaned_data["campaign"])
                if exc.code == "already_committed" and drawn is not None:
                    return HttpResponseRedirect(self._change_url(drawn.pk))
            else:
                self.message_user(
                    request,
                    gettext("Draw committed: %(count)d eligible members; the seed hash is published.")
                    % {"count": draw.eligible_count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(draw.pk))
        campaign = form.initial.get("campaign") or (form.cleaned_data.get("campaign") if form.is_bound else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Commit the lottery draw"),
            "form": form,
            "now": clock.now(),
            "campaign": campaign if isinstance(campaign, Campaign) else None,
        }
        return TemplateResponse(request, "admin/lottery/draw/commit.html", context)

    def draw_view(self, request: HttpRequest, draw_id: int) -> HttpResponse:
        draw = get_object_or_404(Draw, pk=draw_id)
        return self._step(
            request,
            draw_id,
            lambda draw: services.draw_perform_check(draw=draw, user=request.user),
            lambda draw: services.draw_perform(draw=draw, user=request.user),
            gettext("The winners are drawn and the seed is revealed; a second officer confirms."),
            confirm=confirmation_of_draw(draw),
        )

    def confirm_view(self, request: HttpRequest, draw_id: int) -> HttpResponse:
        draw = get_object_or_404(Draw, pk=draw_id)
        return self._step(
            request,
            draw_id,
            lambda draw: services.draw_confirm_check(draw=draw, user=request.user),
            lambda draw: services.draw_confirm(draw=draw, user=request.user),
            gettext("The draw is confirmed and the winners are awarded their points."),
            confirm=confirmation_of_confirm(draw),
        )

    def forfeit_view(self, request: HttpRequest, draw_id: int) -> HttpResponse:
        _officer_required(request)
        form = ForfeitForm(request.POST or None)
        if request.method == "POST" and not form.is_valid():
            # Say which field is wrong and why (too long, a NUL character), not only that both are needed.
            problems = [f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()]
            message = " ".join([gettext("Give the winner's member ID and the reason."), *problems])
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(draw_id))
        draw = get_object_or_404(Draw, pk=draw_id)
        data = form.cleaned_data if form.is_bound else {"member_id": "", "reason": ""}
        return self._step(
            request,
            draw_id,
            lambda draw: services.forfeit_record_check(
                draw=draw, member_id=data["member_id"], reason=data["reason"], user=request.user
            ),
            lambda draw: services.forfeit_record(
                draw=draw, member_id=data["member_id"], reason=data["reason"], user=request.user
            ),
            gettext("The forfeit is recorded; a second officer confirms it."),
            confirm=confirmation_of_forfeit(draw, member_id=data["member_id"], reason=data["reason"]),
        )

    def forfeit_confirm_view(self, request: HttpRequest, draw_id: int, forfeit_id: int) -> HttpResponse:
        forfeit = get_object_or_404(Forfeit, pk=forfeit_id, draw_id=draw_id)
        return self._step(
            request,
            draw_id,
            lambda draw: services.forfeit_confirm_check(forfeit=forfeit, user=request.user),
            lambda draw: services.forfeit_confirm(forfeit=forfeit, user=request.user),
            gettext("The forfeit is confirmed; the replacement is a winner.")
            if forfeit.replacement_member_id
            else gettext("The forfeit is confirmed; no eligible member is left, nobody replaces the winner."),
            confirm=confirmation_of_forfeit_confirm(forfeit),
        )

    def export_view(self, request: HttpRequest, draw_id: int) -> HttpResponse:
        _officer_required(request)
        draw = get_object_or_404(Draw, pk=draw_id)
        if not draw.is_drawn:
            self.message_user(request, gettext("There are no winners before the draw."), messages.ERROR)
            return HttpResponseRedirect(self._change_url(draw_id))
        encoding = request.GET.get("encoding", "utf-8")
        try:
            body = verification.winners_export(draw=draw, encoding=encoding)
        except Refused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(draw_id))
        response = HttpResponse(body, content_type=f"text/csv; charset={encoding}")
        response["Content-Disposition"] = f'attachment; filename="lottery-draw-{draw.pk}-winners-{encoding}.csv"'
        staff_action_record(
            user=request.user, obj=draw, message=gettext("Exported the winners (%(encoding)s)") % {"encoding": encoding}
        )
        return response

    def eligible_view(self, request: HttpRequest, draw_id: int) -> HttpResponse:
        _officer_required(request)
        draw = get_object_or_404(Draw, pk=draw_id)
        response = HttpResponse(verification.eligible_list_export(draw=draw), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="lottery-draw-{draw.pk}-eligible.txt"'
        staff_action_record(user=request.user, obj=draw, message=gettext("Downloaded the frozen eligible list"))
        return response


@admin.register(DrawEntrant)
class DrawEntrantAdmin(ReadOnlyAdmin):
    list_display = ["member_id", "draw", "outcome", "rank", "short_digest"]
    list_filter = ["outcome"]
    list_select_related = ["draw"]
    search_fields = ["=member_id"]
    ordering = ["draw", "rank", "member_id"]
    show_full_result_count = False

    @admin.display(description=_("digest"), ordering="digest")
    def short_digest(self, obj: DrawEntrant) -> str:
        return format_html("<code>{}</code>", obj.digest[:16] + "…") if obj.digest else "—"


@admin.register(Forfeit)
class ForfeitAdmin(ReadOnlyAdmin):
    list_display = ["number", "draw", "member_id", "replacement_member_id", "status", "recorded_by", "confirmed_by"]
    list_filter = ["status"]
    list_select_related = ["draw", "recorded_by", "confirmed_by"]
    search_fields = ["=member_id", "=replacement_member_id"]
    fields = [
        "draw",
        "number",
        "member_id",
        "replacement_member_id",
        "replacement_digest",
        "replacement_rank",
        "reason",
        "status",
        "recorded_by_column",
        "recorded_at",
        "confirmed_by_column",
        "confirmed_at",
    ]
    readonly_fields = fields
    # By name, not linked: the lottery group may not open users (403).
    recorded_by_column = unlinked_column(Forfeit, "recorded_by")
    confirmed_by_column = unlinked_column(Forfeit, "confirmed_by")
