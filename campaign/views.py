from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaign.models import Campaign


def home(request: HttpRequest) -> HttpResponse:
    campaign = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
    return render(request, "site/home.html", {"campaign": campaign})
