"""Staff read every time in Japan time as 「3月20日(金) 12:00」 (English: "Fri 20 Mar 12:00"), from one format
(campaign/formats, FORMAT_MODULE_PATH): list columns, read-only fields, history, the site's |jst filter.
The date and time inputs still take and show what staff type (2026-03-02, 00:00:00)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db.models import JSONField
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from campaign.env import JST
from campaign.models import Campaign
from campaign.templatetags.site import jst
from missions.models import StampCard
from tests.missions.factories import EntryFactory, pay, score

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "when", "expected"),
    [
        ("ja", datetime(2026, 3, 20, 12, 0, tzinfo=JST), "3月20日(金) 12:00"),
        ("en", datetime(2026, 3, 20, 12, 0, tzinfo=JST), "Fri 20 Mar 12:00"),
        ("ja", datetime(2026, 3, 21, 15, 5, tzinfo=UTC), "3月22日(日) 00:05"),  # UTC in, the next JST day out
    ],
)
def test_the_one_format_writes_japan_time_with_the_weekday(language, when, expected):
    with translation.override(language):
        assert jst(when) == expected
        assert date_format(localtime(when), "DATETIME_FORMAT") == expected  # what the admin writes


def test_list_columns_and_read_only_fields_show_japan_time_with_the_weekday(admin_client, in_campaign):
    member = EntryFactory(campaign=in_campaign).member
    pay(member, "2026-03-06 07:30", 500)
    score(in_campaign, member)
    card = StampCard.objects.get(member=member)
    with translation.override("ja"):
        expected = jst(card.scored_at)  # the demo clock: 2026-03-15 12:00 JST, a Sunday
    assert expected == "3月15日(日) 12:00"
    listing = admin_client.get(reverse("admin:missions_stampcard_changelist")).content.decode()
    assert f'<td class="field-scored_at nowrap">{expected}</td>' in listing
    page = admin_client.get(reverse("admin:missions_stampcard_change", args=[card.pk])).content.decode()
    assert f'<div class="readonly">{expected}</div>' in page
    campaigns = admin_client.get(reverse("admin:campaign_campaign_changelist")).content.decode()
    assert "3月2日(月) 00:00" in campaigns and "4月10日(金) 23:59" in campaigns
    assert "2026年3月2日" not in campaigns  # Django's own Japanese format, year first, no weekday


def test_staff_who_chose_english_read_english_times(admin_client, in_campaign):
    admin_client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    campaigns = admin_client.get(reverse("admin:campaign_campaign_changelist")).content.decode()
    assert "Mon 2 Mar 00:00" in campaigns and "Fri 10 Apr 23:59" in campaigns


def test_the_date_and_time_inputs_still_take_what_staff_type(admin_client, in_campaign):
    url = reverse("admin:campaign_campaign_change", args=[in_campaign.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="starts_at_0" value="2026-03-02"' in page and 'name="starts_at_1" value="00:00:00"' in page
    times = {"starts_at", "ends_at", "entry_starts_at", "entry_ends_at", "data_cutoff_at"}
    data = {}
    for field in Campaign._meta.fields:
        value = getattr(in_campaign, field.attname)
        if field.name == "id" or field.name in times or value is None:
            continue
        data[field.name] = json.dumps(value) if isinstance(field, JSONField) else value
    data["is_active"] = "on" if in_campaign.is_active else ""
    for name in times:
        local = getattr(in_campaign, name).astimezone(JST)
        data[f"{name}_0"], data[f"{name}_1"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
    data["data_cutoff_at_0"], data["data_cutoff_at_1"] = "2026-04-11", "18:30"  # typed as staff type it
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    in_campaign.refresh_from_db()
    assert in_campaign.data_cutoff_at == datetime(2026, 4, 11, 18, 30, tzinfo=JST)
