"""The transactions in the admin: a read-only list with filters and exact searches."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.models import ImportBatch, Transaction
from tests.campaign.factories import MemberFactory, TransactionFactory, jst

pytestmark = pytest.mark.django_db

LIST = "admin:campaign_transaction_changelist"


@pytest.fixture
def records(campaign):
    alice, bob = MemberFactory(member_id="ALICE"), MemberFactory(member_id="BOB")
    batch = ImportBatch.objects.create(campaign=campaign, file_name="march.csv", sha256="0" * 64)
    return {
        "bonus": TransactionFactory(transaction_id="T-BONUS", member=alice, merchant_code="KOBE-01"),
        "plain": TransactionFactory(transaction_id="T-PLAIN", member=alice, merchant_code="SHOP-9"),
        "voided": TransactionFactory(transaction_id="T-VOID", member=bob, merchant_code="SHOP-9"),
        "cancel": TransactionFactory(
            transaction_id="T-CANCEL",
            member=bob,
            type="cancel",
            amount=0,
            merchant_code="",
            original_transaction_id="T-VOID",
            occurred_at=jst("2026-03-11 09:00"),
        ),
        "charge": TransactionFactory(
            transaction_id="T-CHARGE", member=bob, type="charge", merchant_code="", import_batch=batch
        ),
        "batch": batch,
    }


def listed(client, query: str = "") -> set[str]:
    response = client.get(reverse(LIST) + query)
    assert response.status_code == 200
    return {t.transaction_id for t in response.context["cl"].result_list}


def test_filters_by_type_void_bonus_merchant_and_import(admin_client, records):
    assert listed(admin_client, "?type__exact=charge") == {"T-CHARGE"}
    assert listed(admin_client, "?void=yes") == {"T-VOID"}
    assert "T-VOID" not in listed(admin_client, "?void=no")
    assert listed(admin_client, "?bonus=yes") == {"T-BONUS"}
    assert listed(admin_client, "?bonus=no") == {"T-PLAIN", "T-VOID"}
    assert listed(admin_client, f"?import_batch={records['batch'].pk}") == {"T-CHARGE"}


def test_filters_by_date(admin_client, records, clock):
    clock("2026-03-11 12:00")
    page = admin_client.get(reverse(LIST)).content.decode()
    assert "occurred_at__gte" in page  # the date filter is offered


def test_searches_by_exact_member_or_transaction_id(admin_client, records):
    assert listed(admin_client, "?q=ALICE") == {"T-BONUS", "T-PLAIN"}
    assert listed(admin_client, "?q=T-CHARGE") == {"T-CHARGE"}
    assert listed(admin_client, "?q=T-VOID") == {"T-VOID", "T-CANCEL"}
    assert listed(admin_client, "?q=ALI") == set()


def test_nobody_adds_edits_or_deletes_a_transaction_even_a_superuser(admin_client, records):
    tx = records["plain"]
    change_url = reverse("admin:campaign_transaction_change", args=[tx.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200  # viewing is allowed
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"amount": 1}).status_code == 403
    assert admin_client.get(reverse("admin:campaign_transaction_add")).status_code == 403
    delete_url = reverse("admin:campaign_transaction_delete", args=[tx.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(reverse(LIST), {"action": "delete_selected", "_selected_action": [tx.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    tx.refresh_from_db()
    assert tx.amount == 1000
    assert Transaction.objects.count() == 5


def test_the_list_never_counts_the_whole_table(admin_client, records):
    response = admin_client.get(reverse(LIST) + "?type__exact=payment")
    assert response.context["cl"].show_full_result_count is False


def test_the_count_stops_at_the_cap_and_facets_are_never_computed(admin_client, records, monkeypatch):
    from campaign.admin_display import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    monkeypatch.setattr("campaign.admin_display.rows_estimate", lambda rows: None)  # as on SQLite: no planner estimate
    cl = admin_client.get(reverse(LIST) + "?_facets=True").context["cl"]
    assert cl.result_count == 3
    assert not cl.add_facets
    assert listed(admin_client, "?q=ALICE") == {"T-BONUS", "T-PLAIN"}
