"""The member sign-in page: WESTER ID, and with ``DJANGO_DEBUG=1`` only, the demo sign-in.

There is no self sign-up and no member password: a member ID is only ever proven by WESTER ID
(:mod:`campaign.wester_id`). The demo sign-in lets a developer pick one of the members that
``manage.py demo_data`` made; with debug off it answers 404, whatever is posted.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from campaign.models import Member
from campaign.wester_id import wester_id_enabled

# The demo members are those `manage.py demo_data` makes (entered or not, with and without activity).
DEMO_MEMBER_PREFIX = "M000000"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return reverse("stamp-card")


def _demo_members() -> list[Member]:
    if not settings.DEBUG:
        return []
    members = Member.objects.filter(member_id__startswith=DEMO_MEMBER_PREFIX).order_by("member_id")
    return list(members.prefetch_related("entries"))


@require_safe
def sign_in(request: HttpRequest) -> HttpResponse:
    """The page that offers WESTER ID (and the demo members in debug)."""
    if request.user.is_authenticated and getattr(request.user, "member", None) is not None:
        return redirect(_next_url(request))
    demo = [{"member": member, "entered": bool(member.entries.all())} for member in _demo_members()]
    return render(
        request,
        "registration/login.html",
        {"wester_id": wester_id_enabled(), "demo_members": demo, "next": _next_url(request)},
    )


@require_POST
def demo_sign_in(request: HttpRequest) -> HttpResponse:
    """Signs in as the chosen demo member; only with DJANGO_DEBUG=1."""
    if not settings.DEBUG:
        raise Http404
    member = Member.objects.filter(
        member_id=request.POST.get("member_id", ""), member_id__startswith=DEMO_MEMBER_PREFIX
    ).first()
    if member is None or member.user is None:
        raise Http404
    login(request, member.user, backend="django.contrib.auth.backends.ModelBackend")
    messages.info(request, _("Demo sign-in as member %(id)s.") % {"id": member.member_id})
    return redirect(_next_url(request))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Ends the portal's session, then WESTER ID's when the member came from there."""
    target = reverse("home")
    if request.user.is_authenticated and request.session.get("oidc_id_token"):
        target = import_string(settings.OIDC_OP_LOGOUT_URL_METHOD)(request)
    logout(request)
    return HttpResponseRedirect(target)
