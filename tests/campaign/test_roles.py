"""Staff roles (SPEC §4): each group does its work in the admin and gets 403 everywhere else."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from campaign.roles import LOTTERY, MARKETING, OPERATIONS, STAFF_ROLES, staff_roles_sync
from missions.exporting import points_export_create
from tests.campaign.factories import EntryFactory, TransactionFactory, UserFactory

pytestmark = pytest.mark.django_db

# (url name, args) → which groups may open it; every other group must get 403.
PAGES = {
    ("admin:merchants_merchant_changelist", ()): {MARKETING},
    ("admin:merchants_merchant_add", ()): {MARKETING},
    ("admin:merchants_merchant_import", ()): {MARKETING},
    ("admin:merchants_merchant_export", ()): {MARKETING},
    ("admin:merchants_district_changelist", ()): {MARKETING},
    ("admin:missions_mission_changelist", ()): {MARKETING},
    ("admin:missions_course_changelist", ()): {MARKETING},
    ("admin:campaign_dashboard", ()): {MARKETING, OPERATIONS},
    ("admin:campaign_dashboard_csv", ()): {MARKETING, OPERATIONS},
    ("admin:campaign_transaction_changelist", ()): {OPERATIONS},
    ("admin:campaign_importbatch_changelist", ()): {OPERATIONS},
    ("admin:campaign_importbatch_upload", ()): {OPERATIONS},
    ("admin:campaign_member_changelist", ()): {OPERATIONS},
    ("admin:campaign_entry_changelist", ()): {OPERATIONS},
    ("admin:campaign_entry_add", ()): {OPERATIONS},
    ("admin:missions_ledgerline_changelist", ()): {OPERATIONS},
    ("admin:missions_stampcard_changelist", ()): {OPERATIONS},
    ("admin:missions_pointexport_changelist", ()): {OPERATIONS},
    ("admin:missions_pointexport_add", ()): {OPERATIONS},
    ("admin:lottery_draw_changelist", ()): {LOTTERY},
    ("admin:lottery_forfeit_changelist", ()): {LOTTERY},
    ("admin:campaign_campaign_changelist", ()): set(),
    ("admin:auth_user_changelist", ()): set(),
    ("admin:admin_logentry_changelist", ()): set(),
}


def staff_in(group: str):
    user = UserFactory(username=f"staff-{group}", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_the_migration_creates_the_three_groups_with_exactly_their_permissions():
    for name, perms in STAFF_ROLES.items():
        group = Group.objects.get(name=name)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == set(perms)


def test_sync_is_idempotent_and_restores_a_removed_permission():
    group = Group.objects.get(name=OPERATIONS)
    group.permissions.clear()
    counts = staff_roles_sync()
    assert counts == staff_roles_sync()
    assert group.permissions.count() == len(STAFF_ROLES[OPERATIONS])


def test_no_group_may_delete_or_edit_transactions_or_ledger_lines():
    for name in STAFF_ROLES:
        user = staff_in(name)
        for perm in [
            "campaign.change_transaction",
            "campaign.delete_transaction",
            "missions.change_ledgerline",
            "missions.delete_ledgerline",
            "merchants.delete_merchant",
        ]:
            assert not user.has_perm(perm), (name, perm)


@pytest.mark.parametrize("group", [MARKETING, OPERATIONS, LOTTERY])
def test_each_group_opens_its_pages_and_gets_403_elsewhere(client, campaign, group):
    client.force_login(staff_in(group))
    for (name, args), allowed in PAGES.items():
        status = client.get(reverse(name, args=args)).status_code
        if group in allowed:
            assert status == 200, (group, name, status)
        else:
            assert status == 403, (group, name, status)


def test_marketing_cannot_create_a_point_export_or_rescore(client, campaign):
    from campaign.models import Member

    member = Member.objects.create(member_id="M1")
    client.force_login(staff_in(MARKETING))
    assert client.post(reverse("admin:missions_pointexport_add"), {"encoding": "utf-8"}).status_code == 403
    assert client.post(reverse("admin:campaign_member_rescore", args=[member.pk])).status_code == 403


def test_operations_cannot_change_a_merchant(client, campaign):
    from merchants.models import Merchant

    merchant = Merchant.objects.first()
    client.force_login(staff_in(OPERATIONS))
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"code": merchant.code, "name": "hijacked"}).status_code == 403
    merchant.refresh_from_db()
    assert merchant.name != "hijacked"


def test_operations_open_an_entry_a_transaction_and_a_point_export_without_links_that_answer_403(client, campaign):
    officer = staff_in(OPERATIONS)
    entry = EntryFactory()
    transaction = TransactionFactory(member=entry.member)
    export = points_export_create(campaign=campaign, user=officer, encoding="utf-8")
    client.force_login(officer)
    for name, pk in [
        ("admin:campaign_entry_change", entry.pk),
        ("admin:campaign_transaction_change", transaction.pk),
        ("admin:missions_pointexport_change", export.pk),
    ]:
        page = client.get(reverse(name, args=[pk])).content.decode()
        assert str(campaign) in page, name
        for link in set(re.findall(r'href="(/admin/[^"]*/change/)"', page)):
            assert client.get(link).status_code == 200, (name, link)
    assert (
        officer.username in client.get(reverse("admin:missions_pointexport_change", args=[export.pk])).content.decode()
    )


def test_a_staff_member_refused_an_admin_page_is_led_back_to_the_back_office(client, campaign):
    client.force_login(staff_in(MARKETING))
    response = client.get(reverse("admin:campaign_transaction_changelist"))
    assert response.status_code == 403
    page = response.content.decode()
    assert f'href="{reverse("admin:index")}"' in page and "管理画面のホームへ戻る" in page
    assert "キャンペーンページへ戻る" not in page  # the customer's way out, not the staff member's


def test_admin_login_locks_after_five_failures(client, db):
    UserFactory(username="officer", is_staff=True)
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "officer", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    locked = client.post(url, {"username": "officer", "password": "pw-for-tests-123"}, REMOTE_ADDR="10.0.0.1")
    assert locked.status_code == 429


@pytest.mark.parametrize("group", [MARKETING, OPERATIONS])
def test_only_the_lottery_group_may_commit_a_draw(client, campaign, clock, group):
    from lottery.models import Draw

    clock("2026-04-15 10:00")
    client.force_login(staff_in(group))
    assert client.post(reverse("admin:lottery_draw_commit")).status_code == 403
    assert not Draw.objects.exists()
    officer = staff_in(LOTTERY)
    assert officer.has_perm("lottery.run_draw") and officer.has_perm("lottery.view_draw")
