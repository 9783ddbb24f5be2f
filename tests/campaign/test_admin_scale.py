"""The admin lists at national scale (issue 16): estimated counts, index-friendly member searches, no N+1."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaign.admin_display import CappedCountPaginator
from campaign.models import Member, Transaction
from campaign.services import rows_estimate
from missions.models import StampCard
from tests.campaign.factories import EntryFactory, MemberFactory, TransactionFactory
from tests.missions.factories import LedgerLineFactory

pytestmark = pytest.mark.django_db

TRANSACTIONS = "admin:campaign_transaction_changelist"


@pytest.fixture
def forty(campaign):
    alice = MemberFactory(member_id="ALICE")
    TransactionFactory.create_batch(38, member=MemberFactory(member_id="BOB"))
    TransactionFactory.create_batch(2, member=alice)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaign_transaction")  # the planner's figures, as autovacuum keeps them


def _counted(queries) -> bool:
    # A prepared read (the session's, campaign/prepared.py) is logged without its text on PostgreSQL.
    return any("COUNT(" in (query["sql"] or "").upper() for query in queries)


def test_a_list_larger_than_the_cap_shows_the_planners_estimate_on_postgresql(
    postgres_only, admin_client, forty, monkeypatch
):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    with CaptureQueriesContext(connection) as queries:
        cl = admin_client.get(reverse(TRANSACTIONS)).context["cl"]
    # Freshly analysed, the estimate of a small table is its size; no row was counted.
    assert cl.result_count == 40
    assert not _counted(queries.captured_queries)


def test_a_list_the_planner_expects_small_is_counted_exactly(admin_client, forty, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    with CaptureQueriesContext(connection) as queries:
        cl = admin_client.get(reverse(TRANSACTIONS) + "?q=ALICE").context["cl"]
    assert cl.result_count == 2
    assert _counted(queries.captured_queries)


def test_without_an_estimate_the_count_stops_at_the_cap(admin_client, forty, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    cl = admin_client.get(reverse(TRANSACTIONS)).context["cl"]
    assert cl.result_count == (40 if connection.vendor == "postgresql" else 5)


def test_rows_estimate_reads_the_plan_on_postgresql_and_nothing_elsewhere(forty):
    everything = Transaction.objects.values("pk")
    if connection.vendor != "postgresql":
        assert rows_estimate(everything) is None
        return
    assert rows_estimate(everything) == 40
    assert rows_estimate(everything.filter(member_id="NOBODY")) <= 2


def test_a_member_search_of_ledger_lines_and_cards_finds_that_member_only(admin_client, campaign):
    one, two = Member.objects.create(member_id="M1"), Member.objects.create(member_id="M2")
    for member in (one, two):
        LedgerLineFactory(campaign=campaign, member=member, reward="casual-1")
        LedgerLineFactory(campaign=campaign, member=member, reward="casual-2")
        StampCard.objects.create(campaign=campaign, member=member, stamps_cleared=2)
    lines = admin_client.get(reverse("admin:missions_ledgerline_changelist") + "?q=M2").context["cl"]
    assert sorted((line.member_id, line.reward) for line in lines.result_list) == [
        ("M2", "casual-1"),
        ("M2", "casual-2"),
    ]
    cards = admin_client.get(reverse("admin:missions_stampcard_changelist") + "?q=M1").context["cl"]
    assert [card.member_id for card in cards.result_list] == ["M1"]


def test_the_ledger_member_search_reaches_the_campaign_member_index(postgres_only, admin_client, campaign):
    LedgerLineFactory(campaign=campaign, member=Member.objects.create(member_id="M1"), reward="casual-1")
    cl = admin_client.get(reverse("admin:missions_ledgerline_changelist") + "?q=M1").context["cl"]
    sql, params = cl.queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask what the index can do
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ledger_line_once" in plan
    # Both key columns in the index condition: a descent to the member, not a walk of the whole index.
    assert "Index Cond: ((campaign_id" in plan and "member_id)::text = 'M1'" in plan


def test_the_lines_not_exported_are_found_without_walking_the_exported_ones(postgres_only, admin_client, campaign):
    """Migration missions 0009: after an export, "not exported" walked every exported line (1.9 s at 9 million)."""
    LedgerLineFactory(campaign=campaign, member=Member.objects.create(member_id="M1"), reward="casual-1")
    url = reverse("admin:missions_ledgerline_changelist") + "?export__isnull=True"
    cl = admin_client.get(url).context["cl"]
    sql, params = cl.queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask what the index can do
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ledger_unexported" in plan and cl.result_count == 1


@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("admin:campaign_entry_changelist", lambda campaign, n: EntryFactory(campaign=campaign)),
        (
            "admin:missions_stampcard_changelist",
            lambda campaign, n: StampCard.objects.create(campaign=campaign, member=MemberFactory()),
        ),
    ],
)
def test_a_list_takes_as_many_queries_for_twelve_rows_as_for_two(admin_client, campaign, url, make):
    counts = []
    for rows in (2, 10):
        for n in range(rows):
            make(campaign, n)
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse(url)).status_code == 200
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_the_planner_counts_one_distinct_original_id_per_cancel(postgres_only, forty):
    """Migration 0009: without it ANALYZE saw ~450 distinct originals in 30 million rows (the voided list: seconds)."""
    TransactionFactory(type="cancel", amount=0, original_transaction_id="T-GONE")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaign_transaction")
        cursor.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'campaign_transaction' "
            "AND attname = 'original_transaction_id'"
        )
        assert cursor.fetchone()[0] == pytest.approx(-0.01)


def test_after_an_import_the_planner_knows_its_rows(postgres_only, in_campaign, tmp_path):
    """Without it the planner expected no row of a new import: the admin's import filter scanned 30 million rows."""
    TransactionFactory.create_batch(20)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaign_transaction")  # every transaction without an import, as autovacuum saw
    path = tmp_path / "day.csv"
    rows = [f"D{n},M{n},payment,500,0,SHOP-1,2026-03-10T12:00:00+09:00,," for n in range(10)]
    header = "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at,original_transaction_id,"
    path.write_text("\n".join([header + "charge_method", *rows]) + "\n", encoding="utf-8")
    call_command("import_transactions", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT null_frac FROM pg_stats WHERE tablename = 'campaign_transaction' AND attname = 'import_batch_id'"
        )
        assert cursor.fetchone()[0] == pytest.approx(20 / 30)
