"""The member's stamp card page, its refresh fragment and the full history of payments and charges.

The card shows the stamps and the newest CARD_TRANSACTIONS records with why each counted or not;
older records are on the history page, a page at a time, so that neither page grows with a
member's month (a busy member pays several times a day). Every page finds its member through
``campaign.views.get_member_for_user``: a URL naming another member's id answers 404.
"""

from __future__ import annotations

import hashlib
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from campaign import clock
from campaign.models import Campaign, Entry, Member
from campaign.prepared import prepared_cursor
from campaign.views import current_campaign, get_member_for_user, mission_unit, site_language, window_state
from missions.models import Mission
from missions.services import progress_document, transactions_explained

# How long a rendered stamp card is reused at most when nothing in its cache key changed.
STAMP_CARD_CACHE_SECONDS = 60
CARD_TRANSACTIONS = 10  # the newest records on the card; all of them on the history page
HISTORY_PAGE = 20

_NOT_ENTERED_AFTER_WINDOW = gettext_lazy("Not counted: you did not enter during the campaign period.")


def _transaction_rows(explained: list[dict], missions: dict[str, Mission], *, can_enter: bool) -> list[dict]:
    """The explained records joined with their missions, as the card and the history list them."""
    rows = []
    for row in explained:
        occurred_at = row.get("occurred_at")
        rows.append(
            {
                **row,
                "occurred_at": parse_datetime(occurred_at) if isinstance(occurred_at, str) else occurred_at,
                "missions": [missions[c] for c in row.get("counted_for", []) if c in missions],
                "would_missions": [missions[c] for c in row.get("would_count_for", []) if c in missions]
                if can_enter
                else [],
                "reasons": [
                    {
                        "code": reason.get("code", ""),
                        "text": _NOT_ENTERED_AFTER_WINDOW
                        if reason.get("code") == "not_entered_yet" and not can_enter
                        else reason.get("text") or reason.get("message", ""),
                        "missions": [missions[c] for c in reason.get("missions", []) if c in missions],
                    }
                    for reason in row.get("reasons", [])
                ],
            }
        )
    return rows


def _missions(campaign: Campaign) -> dict[str, Mission]:
    return {m.code: m for m in Mission.objects.filter(campaign=campaign).select_related("course")}


def _stamp_card_context(request: HttpRequest, campaign: Campaign, member: Member) -> dict:
    """The stamp card: the scoring engine's progress document joined with the missions' texts."""
    document = progress_document(campaign=campaign, member_id=member.member_id)
    newest = transactions_explained(campaign=campaign, member_id=member.member_id)[: CARD_TRANSACTIONS + 1]
    missions = _missions(campaign)
    courses = {m.course.code: m.course for m in missions.values()}
    entered = document.get("entered", False)
    # "Cleared once you enter" is an offer: made only while entry is possible.
    can_enter = not entered and window_state(campaign, clock.now()) == "open"
    cards = []
    for course_doc in document.get("courses", []):
        stamps = []
        for mission_doc in course_doc.get("missions", []):
            mission = missions.get(mission_doc["code"])
            if mission is None:
                continue
            progress, target = mission_doc.get("progress", 0), mission_doc.get("target", 1)
            stamps.append(
                {
                    **mission_doc,
                    "mission": mission,
                    "cleared_at": parse_datetime(mission_doc["cleared_at"]) if mission_doc.get("cleared_at") else None,
                    "unit": mission_unit(mission),
                    # Not entered: the stamp this member would get by entering now (R2).
                    "would_clear": can_enter and target and progress >= target,
                }
            )
        cards.append(
            {
                **course_doc,
                "course": courses.get(course_doc["code"]),
                "stamps": stamps,
                "cleared": sum(1 for s in stamps if s["cleared"]),
            }
        )
    scored_at = document.get("scored_at")
    # For a member with nothing to show yet, the offer names the first mission instead of "0pt".
    first_mission = next((s["mission"] for card in cards for s in card["stamps"] if s["mission"].reward_points), None)
    return {
        "first_mission": first_mission,
        "campaign": campaign,
        "member": member,
        "document": document,
        "entered": entered,
        "entered_at": parse_datetime(document["entered_at"]) if document.get("entered_at") else None,
        "scored_at": parse_datetime(scored_at) if scored_at else None,
        "cards": cards,
        "transactions": _transaction_rows(newest[:CARD_TRANSACTIONS], missions, can_enter=can_enter),
        "older_transactions": len(newest) > CARD_TRANSACTIONS,
        "window": window_state(campaign, clock.now()),
    }


# Read on every stamp card view. Plain SQL because compiling the equivalent queryset (two
# subqueries) cost more CPU than the rest of a page whose card is reused (bench/load.py). The
# draw's status and the member's outcome are part of it: a draw shows on the next view.
_CARD_STATE_SQL = """
    SELECT c.entered, c.scored_at, c.stamps_cleared, c.points_limited, c.points_basic, c.lottery_eligible,
           (SELECT COUNT(*) FROM campaign_transaction t WHERE t.member_id = c.member_id),
           (SELECT MAX(t.id) FROM campaign_transaction t WHERE t.member_id = c.member_id),
           d.status, de.outcome
    FROM missions_stampcard c
    LEFT JOIN lottery_draw d ON d.campaign_id = c.campaign_id
    LEFT JOIN lottery_drawentrant de ON de.draw_id = d.id AND de.member_id = c.member_id
    WHERE c.campaign_id = %(campaign)s AND c.member_id = %(member)s
"""
# A kept page holds this instead of its forms' CSRF tokens; each answer gets the request's own.
_CSRF_SLOT = "csrf-token-of-the-request"
_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


def _stamp_card_kept(request: HttpRequest, campaign: Campaign, member: Member, *, page: bool) -> str:
    """The stamp card page (or, not ``page``, the card alone), reused while nothing it shows has changed.

    The key names what changes the card: the stamp card row the scoring engine rewrites (points,
    stamps, entry, lottery eligibility), the member's transactions (count and newest row), the
    draw's status and the member's outcome, the language and the entry window; a page's key also
    its address. What no key names (a marketing edit of a mission or campaign text, a re-score
    after a rule change) shows within STAMP_CARD_CACHE_SECONDS. A kept page's forms get the
    request's own CSRF token. Never reused: a member who has not entered (the entry form), a page
    with messages to show or a query string (no key per made-up query).
    """
    with prepared_cursor() as cursor:
        cursor.execute(_CARD_STATE_SQL, {"campaign": campaign.pk, "member": member.member_id})
        state = cursor.fetchone()
    card_key = page_key = None
    if state is not None and state[0]:
        fingerprint = hashlib.sha256(repr(state).encode()).hexdigest()[:24]
        window = window_state(campaign, clock.now())
        card_key = f"site:card:{campaign.pk}:{member.member_id}:{site_language()}:{window}:{fingerprint}"
        if page and not request.META.get("QUERY_STRING") and not messages.get_messages(request):
            address = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()[:16]
            page_key = f"{card_key}:page:{address}"
    wanted = page_key if page else card_key
    kept = cache.get(wanted) if wanted else None
    if kept is not None:
        return kept.replace(_CSRF_SLOT, get_token(request)) if page else kept
    card = cache.get(card_key) if page and card_key else None
    if card is None:
        card = render_to_string(
            "site/_stamp_card.html", _stamp_card_context(request, campaign, member), request=request
        )
        if card_key is not None:
            cache.set(card_key, card, STAMP_CARD_CACHE_SECONDS)
    if not page:
        return card
    html = render_to_string(
        "site/stamp_card.html", {"campaign": campaign, "member": member, "card_html": card}, request=request
    )
    if page_key is not None:
        cache.set(page_key, _CSRF_VALUE.sub(rf'\g<1>{_CSRF_SLOT}"', html), STAMP_CARD_CACHE_SECONDS)
    return html


@login_required
@require_safe
def stamp_card(request: HttpRequest, member_id: str | None = None) -> HttpResponse:
    campaign = current_campaign()
    member = get_member_for_user(request, member_id)
    return HttpResponse(_stamp_card_kept(request, campaign, member, page=True))


@login_required
@require_safe
def stamp_card_fragment(request: HttpRequest) -> HttpResponse:
    """The card and the transactions alone, for the 更新 (refresh) button."""
    campaign = current_campaign()
    member = get_member_for_user(request)
    response = HttpResponse(_stamp_card_kept(request, campaign, member, page=False))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_safe
def transaction_history(request: HttpRequest, member_id: str | None = None) -> HttpResponse:
    """All the member's payments and charges, newest first, HISTORY_PAGE at a time."""
    campaign = current_campaign()
    member = get_member_for_user(request, member_id)
    explained = transactions_explained(campaign=campaign, member_id=member.member_id)
    page = Paginator(explained, HISTORY_PAGE).get_page(request.GET.get("page"))
    entered = Entry.objects.filter(campaign=campaign, member_id=member.member_id).exists()
    can_enter = not entered and window_state(campaign, clock.now()) == "open"
    rows = _transaction_rows(list(page), _missions(campaign), can_enter=can_enter)
    return render(
        request,
        "site/transactions.html",
        {"campaign": campaign, "member": member, "page": page, "transactions": rows},
    )
