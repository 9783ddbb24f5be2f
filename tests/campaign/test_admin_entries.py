"""Entries in the admin: operations enter a member by the campaign's rules; entries are shown, never edited."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from campaign.models import Entry, EntrySource
from tests.campaign.factories import EntryFactory, MemberFactory

pytestmark = pytest.mark.django_db

ADD = "admin:campaign_entry_add"


def test_operations_enter_a_member_inside_the_window_and_the_action_is_recorded(admin_client, admin_user, in_campaign):
    response = admin_client.post(reverse(ADD), {"member_id": "M-NEW", "entered_at": ""})
    entry = Entry.objects.get(member_id="M-NEW")
    assert response.status_code == 302 and response["Location"].endswith(f"/{entry.pk}/change/")
    assert entry.source == EntrySource.ADMIN
    assert LogEntry.objects.get(object_id=str(entry.pk), content_type__model="entry").user == admin_user


def test_an_entry_outside_the_window_is_refused_with_the_reason(admin_client, campaign, clock):
    clock("2026-04-05 12:00")
    response = admin_client.post(reverse(ADD), {"member_id": "M-LATE", "entered_at": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Entry.objects.filter(member_id="M-LATE").exists()


def test_a_bad_member_id_is_refused(admin_client, in_campaign):
    response = admin_client.post(reverse(ADD), {"member_id": "has space", "entered_at": ""})
    assert response.status_code == 200 and response.context["form"].errors
    assert not Entry.objects.exists()


def test_entering_twice_keeps_one_entry(admin_client, in_campaign):
    EntryFactory(campaign=in_campaign, member=MemberFactory(member_id="M-TWICE"))
    admin_client.post(reverse(ADD), {"member_id": "M-TWICE", "entered_at": ""})
    assert Entry.objects.filter(member_id="M-TWICE").count() == 1


def test_an_entry_page_is_read_only(admin_client, in_campaign):
    entry = EntryFactory(campaign=in_campaign)
    page = admin_client.get(reverse("admin:campaign_entry_change", args=[entry.pk])).content.decode()
    assert 'name="entered_at' not in page


def test_the_staff_action_log_is_visible_to_superusers_only(admin_client, client, in_campaign):
    from django.contrib.auth.models import Group

    from tests.campaign.factories import UserFactory

    admin_client.post(reverse(ADD), {"member_id": "M-LOG", "entered_at": ""})
    page = admin_client.get(reverse("admin:admin_logentry_changelist"))
    assert page.status_code == 200 and "会員 M-LOG をエントリー" in page.content.decode()
    log = LogEntry.objects.get(change_message__contains="M-LOG")
    assert admin_client.post(reverse("admin:admin_logentry_delete", args=[log.pk]), {"post": "yes"}).status_code == 403

    ops = UserFactory(username="ops-log", is_staff=True)
    ops.groups.add(Group.objects.get(name="operations"))
    client.force_login(ops)
    assert client.get(reverse("admin:admin_logentry_changelist")).status_code == 403
