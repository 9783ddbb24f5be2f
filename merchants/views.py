"""The bonus merchants page: the BLUE-tag shops of the bonus list, live from the merchant table."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from merchants.models import District, Merchant


@require_GET
def bonus_merchants(request: HttpRequest) -> HttpResponse:
    """Districts in order with their active bonus-list merchants: what marketing edits is what customers see."""
    districts = [
        district
        for district in District.objects.order_by("order", "code").prefetch_related(
            Prefetch("merchants", queryset=Merchant.objects.bonus().order_by("order", "code"), to_attr="bonus")
        )
        if district.bonus
    ]
    # A bonus merchant that marketing has not placed in a district yet is still listed.
    others = list(Merchant.objects.bonus().filter(district__isnull=True).order_by("order", "code"))
    return render(request, "site/merchants.html", {"districts": districts, "others": others})
