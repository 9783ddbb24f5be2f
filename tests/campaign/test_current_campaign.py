"""The current campaign kept per process for the hot read paths (stamp card, progress API)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign import models
from campaign.models import Campaign

pytestmark = pytest.mark.django_db


def test_the_kept_campaign_is_the_current_one_read_once(campaign, django_assert_num_queries):
    assert Campaign.objects.current_kept().pk == Campaign.objects.current().pk == campaign.pk
    with django_assert_num_queries(0):
        assert Campaign.objects.current_kept().code == campaign.code


def test_a_save_in_this_process_shows_at_once(campaign):
    Campaign.objects.current_kept()
    campaign.name_en = "Renamed"
    campaign.save()
    assert Campaign.objects.current_kept().name_en == "Renamed"


def test_another_campaign_activated_elsewhere_shows_after_the_ttl(campaign, monkeypatch):
    Campaign.objects.current_kept()
    later = Campaign.objects.filter(pk=campaign.pk).values().get()
    shift = timedelta(days=365)
    later.update({field: later[field] + shift for field in later if field.endswith("_at")})
    later.update(id=None, code="next")
    # As another process would: no signal reaches this one.
    Campaign.objects.bulk_create([Campaign(**later)])
    assert Campaign.objects.current_kept().code == campaign.code
    now = models.time.monotonic()
    monkeypatch.setattr(models.time, "monotonic", lambda: now + models.CURRENT_KEPT_SECONDS + 1)
    assert Campaign.objects.current_kept().code == "next"


def test_each_caller_gets_its_own_copy(campaign):
    first = Campaign.objects.current_kept()
    first.name_en = "changed by one request"
    assert Campaign.objects.current_kept().name_en == campaign.name_en
