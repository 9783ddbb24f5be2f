from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaign.models import Campaign


def home(request: HttpRequest) -> HttpResponse:
    campaign = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
    return render(request, "site/home.html", {"campaign": campaign})


def login_locked_out(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> HttpResponse:
    """Shown (429) after too many failed sign-ins for one member ID from one address (django-axes)."""
    return render(request, "site/locked_out.html", status=429)
