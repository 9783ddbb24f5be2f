"""The site's filters: money as 1,000円 / ¥1,000, points as 1,000pt, times and the period in Japan time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import translation

from campaign.templatetags.site import campaign_period, jst, pt, yen


@pytest.mark.parametrize(
    ("language", "amount", "shown"), [("ja", 1000, "1,000円"), ("en", 1000, "¥1,000"), ("en", 0, "¥0")]
)
def test_yen_follows_the_language(language, amount, shown):
    with translation.override(language):
        assert yen(amount) == shown


def test_yen_and_points_of_nothing_are_empty():
    assert yen(None) == "" and yen("x") == "" and pt(None) == ""
    assert pt(11000) == "11,000pt"


def test_times_are_shown_in_japan_time_whatever_they_are_stored_in():
    utc = datetime(2026, 3, 5, 22, 30, tzinfo=UTC)  # 07:30 on Friday 6 March in Japan
    with translation.override("ja"):
        assert jst(utc) == "3月6日(金) 07:30"
        assert jst("2026-03-05T22:30:00Z", "short") == "3/6"
    with translation.override("en"):
        assert jst(utc) == "Fri 6 Mar 07:30"
        assert jst(utc, "date") == "Fri 6 Mar"
    assert jst(None) == "" and jst("not a time") == ""


@pytest.mark.django_db
def test_the_period_reads_as_the_announcement_writes_it(campaign):
    with translation.override("ja"):
        assert campaign_period(campaign) == "2026年3月2日(月)〜3月31日(火)"
    with translation.override("en"):
        assert campaign_period(campaign) == "Mon 2 Mar – Tue 31 Mar 2026"
