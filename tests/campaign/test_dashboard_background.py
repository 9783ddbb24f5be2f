"""The dashboard at a million members: a worker computes the figures, the page answers at once (issue 16)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaign.dashboard import dashboard_refresh_task
from tests.campaign.factories import EntryFactory, MemberFactory

pytestmark = pytest.mark.django_db

URL = "admin:campaign_dashboard"


@pytest.fixture
def sent(monkeypatch):
    """The refresh tasks sent to the broker, kept here instead of run (a worker would run them later)."""
    tasks: list[int] = []
    monkeypatch.setattr("campaign.dashboard.task_enqueue", lambda task, campaign_id: tasks.append(campaign_id))
    cache.clear()
    yield tasks
    cache.clear()


def test_a_cold_dashboard_answers_at_once_and_sends_one_refresh(admin_client, campaign, sent):
    first = admin_client.get(reverse(URL))
    assert first.status_code == 200
    assert 'id="dashboard-pending"' in first.content.decode() and "figures" not in first.context
    assert sent == [campaign.pk]
    admin_client.get(reverse(URL))
    assert sent == [campaign.pk]  # the second visitor waits for the same task
    EntryFactory(campaign=campaign, member=MemberFactory(member_id="E1"))
    dashboard_refresh_task(campaign.pk)  # the worker
    assert admin_client.get(reverse(URL)).context["figures"].entries_total == 1


def test_old_figures_are_shown_while_their_refresh_runs(admin_client, campaign, sent):
    dashboard_refresh_task(campaign.pk)
    EntryFactory(campaign=campaign, member=MemberFactory(member_id="E1"))
    assert admin_client.get(reverse(URL) + "?refresh=1").context["figures"].entries_total == 0
    assert sent == [campaign.pk]  # the refresh asked for, sent to a worker
    dashboard_refresh_task(campaign.pk)
    assert admin_client.get(reverse(URL)).context["figures"].entries_total == 1


def test_the_csv_download_computes_missing_figures_itself(admin_client, campaign, sent):
    EntryFactory(campaign=campaign, member=MemberFactory(member_id="E1"))
    response = admin_client.get(reverse("admin:campaign_dashboard_csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert admin_client.get(reverse(URL)).context["figures"].entries_total == 1  # and kept them
