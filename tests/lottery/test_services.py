"""The draw's steps as services: commit, draw, four-eyes confirm, forfeits, the ledger and the status."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.services import Refused
from lottery import services, verification
from lottery.models import Draw, DrawEntrant, DrawStatus, Outcome
from missions.models import LedgerLine, StampCard
from tests.campaign.factories import UserFactory
from tests.lottery.factories import eligible_members, members_with_stamps


def independent_winners(seed_hex: str, member_ids: list[str], n: int) -> list[str]:
    seed = bytes.fromhex(seed_hex)
    return sorted(member_ids, key=lambda m: hmac.new(seed, m.encode(), hashlib.sha256).hexdigest())[:n]


def drawn(campaign, committer, drawer=None):
    draw = services.draw_commit(campaign=campaign, user=committer)
    return services.draw_perform(draw=draw, user=drawer or committer)


def test_eligible_are_entered_members_with_every_mania_mission_cleared(after_cutoff):
    complete = members_with_stamps(after_cutoff, ["A1", "A2"])
    members_with_stamps(after_cutoff, ["B1"], missing=1)  # mania-1 not cleared
    members_with_stamps(after_cutoff, ["C1"], entered=False)
    assert verification.eligible_member_ids(campaign=after_cutoff) == complete


def test_commit_freezes_the_eligible_list_and_publishes_both_hashes(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 5)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)

    assert draw.status == DrawStatus.COMMITTED
    assert (draw.winners_count, draw.prize_points, draw.point_type) == (77, 5000, "basic")
    assert draw.eligible_count == 5
    assert draw.eligible_hash == hashlib.sha256("".join(f"{m}\n" for m in sorted(ids)).encode()).hexdigest()
    seed = bytes.fromhex(draw.seed)
    assert len(seed) == 32 and draw.seed == seed.hex()
    assert draw.seed_hash == hashlib.sha256(seed).hexdigest()
    assert sorted(draw.entrants.values_list("member_id", flat=True)) == ids
    assert set(draw.entrants.values_list("outcome", flat=True)) == {Outcome.ELIGIBLE}
    assert LogEntry.objects.filter(object_id=str(draw.pk), user=alice).exists()


def test_later_stamps_do_not_change_the_frozen_list(after_cutoff, alice):
    eligible_members(after_cutoff, 3)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    members_with_stamps(after_cutoff, ["LATE1"])
    assert draw.entrants.count() == 3
    report = verification.draw_verify(draw=draw)
    assert report.ok and "1 eligible now but not frozen" in report.warnings[0]


@pytest.mark.parametrize(
    "now",
    ["2026-03-31T23:59:59+09:00", "2026-04-05T12:00:00+09:00", "2026-04-10T23:59:59+09:00"],
)
def test_commit_is_refused_before_the_period_and_the_data_cutoff_are_over(clock, campaign, alice, now):
    eligible_members(campaign, 3)
    clock(now)
    with pytest.raises(Refused) as refused:
        services.draw_commit(campaign=campaign, user=alice)
    assert refused.value.code == "too_early"
    assert not Draw.objects.exists()


def test_commit_is_accepted_just_after_the_data_cutoff(clock, campaign, alice):
    clock(campaign.data_cutoff_at + timedelta(seconds=1))
    assert services.draw_commit(campaign=campaign, user=alice).pk


def test_only_a_member_of_the_lottery_group_can_commit(after_cutoff):
    staff = UserFactory(username="ops", is_staff=True)
    with pytest.raises(Refused) as refused:
        services.draw_commit(campaign=after_cutoff, user=staff)
    assert refused.value.code == "not_an_officer"


def test_a_second_draw_for_the_campaign_is_refused_by_the_service_and_the_database(after_cutoff, alice, bob):
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    with pytest.raises(Refused) as refused:
        services.draw_commit(campaign=after_cutoff, user=bob)
    assert refused.value.code == "already_committed"
    with pytest.raises(IntegrityError), transaction.atomic():
        Draw.objects.create(
            campaign=after_cutoff,
            winners_count=77,
            prize_points=5000,
            point_type="basic",
            eligible_count=0,
            eligible_hash=draw.eligible_hash,
            seed="0" * 64,
            seed_hash="0" * 64,
            committed_by=bob,
            committed_at=draw.committed_at,
        )
    assert Draw.objects.get().pk == draw.pk


def test_the_database_refuses_to_delete_a_draw_or_change_its_commitment(after_cutoff, alice):
    eligible_members(after_cutoff, 3)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    with pytest.raises(DatabaseError), transaction.atomic():
        Draw.objects.filter(pk=draw.pk).update(seed="1" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        Draw.objects.filter(pk=draw.pk)._raw_delete(Draw.objects.db)
    with pytest.raises(DatabaseError), transaction.atomic():
        DrawEntrant.objects.filter(draw=draw).update(member_id="X")
    with pytest.raises(DatabaseError), transaction.atomic():
        DrawEntrant.objects.filter(draw=draw)._raw_delete(DrawEntrant.objects.db)
    draw.refresh_from_db()
    assert draw.entrants.count() == 3 and draw.seed != "1" * 64


def test_the_database_refuses_to_re_run_a_drawn_draw(after_cutoff, alice):
    eligible_members(after_cutoff, 3)
    draw = drawn(after_cutoff, alice)
    with pytest.raises(DatabaseError), transaction.atomic():
        Draw.objects.filter(pk=draw.pk).update(
            status=DrawStatus.COMMITTED, drawn_by=None, drawn_at=None, cutoff_digest=""
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        Draw.objects.filter(pk=draw.pk).update(cutoff_digest="f" * 64)


def test_the_draw_takes_the_77_smallest_digests_and_reveals_the_seed(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 120)
    draw = drawn(after_cutoff, alice)

    expected = independent_winners(draw.seed, ids, 77)
    winners = list(services.current_winners(draw=draw))
    assert [w.member_id for w in winners] == expected
    assert [w.rank for w in winners] == list(range(1, 78))
    assert draw.cutoff_digest == winners[-1].digest
    assert draw.entrants.filter(outcome=Outcome.LOST).count() == 43
    assert services.lottery_public(campaign=after_cutoff)["seed"] == draw.seed
    with pytest.raises(Refused) as refused:
        services.draw_perform(draw=draw, user=alice)
    assert refused.value.code == "already_drawn"


def test_fewer_eligible_than_77_all_win(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 10)
    draw = drawn(after_cutoff, alice)
    assert sorted(services.current_winners(draw=draw).values_list("member_id", flat=True)) == ids


def test_nobody_eligible_gives_a_draw_without_winners(after_cutoff, alice, bob):
    draw = services.draw_confirm(draw=drawn(after_cutoff, alice), user=bob)
    assert draw.eligible_count == 0 and draw.cutoff_digest == ""
    assert verification.draw_verify(draw=draw).ok


@pytest.mark.parametrize("confirmer", ["committer", "drawer"])
def test_the_officer_who_committed_or_drew_cannot_confirm(after_cutoff, alice, bob, carol, confirmer):
    eligible_members(after_cutoff, 3)
    draw = drawn(after_cutoff, alice, bob)
    with pytest.raises(Refused) as refused:
        services.draw_confirm(draw=draw, user=alice if confirmer == "committer" else bob)
    assert refused.value.code == "four_eyes"
    assert not LedgerLine.objects.exists()
    assert services.draw_confirm(draw=draw, user=carol).status == DrawStatus.CONFIRMED


def test_the_database_also_refuses_a_confirmation_by_the_drawer(after_cutoff, alice):
    draw = drawn(after_cutoff, alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Draw.objects.filter(pk=draw.pk).update(
            status=DrawStatus.CONFIRMED, confirmed_by=alice, confirmed_at=draw.drawn_at
        )


def test_confirm_awards_each_winner_once_through_the_ledger(after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    StampCard.objects.create(campaign=after_cutoff, member_id="M0000001", entered=True)
    draw = services.draw_confirm(draw=drawn(after_cutoff, alice), user=bob)
    winners = set(services.current_winners(draw=draw).values_list("member_id", flat=True))

    lines = LedgerLine.objects.filter(reward="lottery")
    assert lines.count() == 77
    assert set(lines.values_list("member_id", flat=True)) == winners
    assert set(lines.values_list("points", "point_type", "kind", "mission")) == {(5000, "basic", "award", None)}
    with pytest.raises(Refused):
        services.draw_confirm(draw=draw, user=bob)
    services._prize_award(draw=draw, member_ids=list(winners), when=draw.confirmed_at)  # a retry
    assert lines.count() == 77
    card = StampCard.objects.get(member_id="M0000001")
    assert card.points_basic == (5000 if "M0000001" in winners else 0)


def test_forfeits_walk_the_digest_order_and_are_confirmed_by_a_second_officer(after_cutoff, alice, bob):
    ids = eligible_members(after_cutoff, 100)
    draw = services.draw_confirm(draw=drawn(after_cutoff, alice), user=bob)
    order = independent_winners(draw.seed, ids, 100)

    first = services.forfeit_record(draw=draw, member_id=order[3], reason="declined the prize", user=alice)
    assert first.replacement_member_id == order[77] and first.replacement_rank == 78
    with pytest.raises(Refused) as refused:
        services.forfeit_confirm(forfeit=first, user=alice)
    assert refused.value.code == "four_eyes"
    with pytest.raises(Refused) as refused:
        services.forfeit_record(draw=draw, member_id=order[4], reason="second", user=alice)
    assert refused.value.code == "forfeit_pending"
    assert services.member_lottery_status(campaign=after_cutoff, member_id=order[77], eligible=True) == "lost"

    services.forfeit_confirm(forfeit=first, user=bob)
    second = services.forfeit_record(draw=draw, member_id=order[77], reason="unreachable", user=bob)
    assert second.replacement_member_id == order[78]
    services.forfeit_confirm(forfeit=second, user=alice)

    winners = list(services.current_winners(draw=draw).values_list("member_id", flat=True))
    assert winners == [m for m in order[:79] if m not in (order[3], order[77])]
    points = {
        m: sum(LedgerLine.objects.filter(member_id=m, reward="lottery").values_list("points", flat=True))
        for m in (order[3], order[77], order[78])
    }
    assert points == {order[3]: 0, order[77]: 0, order[78]: 5000}
    assert LedgerLine.objects.filter(reward="lottery", kind="reversal").count() == 2
    assert verification.draw_verify(draw=draw).ok
    status = {
        m: services.member_lottery_status(campaign=after_cutoff, member_id=m, eligible=True) for m in order[77:79]
    }
    assert status == {order[77]: "lost", order[78]: "won"}


def test_a_forfeit_needs_a_reason_and_a_current_winner(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 80)
    draw = drawn(after_cutoff, alice)
    order = independent_winners(draw.seed, ids, 80)
    with pytest.raises(Refused) as refused:
        services.forfeit_record(draw=draw, member_id=order[0], reason="  ", user=alice)
    assert refused.value.code == "reason_missing"
    with pytest.raises(Refused) as refused:
        services.forfeit_record(draw=draw, member_id=order[79], reason="not a winner", user=alice)
    assert refused.value.code == "not_a_winner"


def test_a_forfeit_before_confirmation_moves_the_prize_at_confirmation(after_cutoff, alice, bob):
    ids = eligible_members(after_cutoff, 78)
    draw = drawn(after_cutoff, alice)
    order = independent_winners(draw.seed, ids, 78)
    forfeit = services.forfeit_record(draw=draw, member_id=order[0], reason="staff member", user=alice)
    services.forfeit_confirm(forfeit=forfeit, user=bob)
    services.draw_confirm(draw=draw, user=bob)
    awarded = set(LedgerLine.objects.filter(reward="lottery").values_list("member_id", flat=True))
    assert awarded == set(order[1:78])
    assert not LedgerLine.objects.filter(kind="reversal").exists()


def test_when_everybody_won_a_forfeit_has_no_replacement(after_cutoff, alice, bob):
    ids = eligible_members(after_cutoff, 3)
    draw = drawn(after_cutoff, alice)
    forfeit = services.forfeit_record(draw=draw, member_id=ids[0], reason="declined", user=alice)
    assert forfeit.replacement_member_id == ""
    services.forfeit_confirm(forfeit=forfeit, user=bob)
    assert services.current_winners(draw=draw).count() == 2
    assert verification.draw_verify(draw=draw).ok


def test_member_status_is_not_drawn_until_the_draw_then_won_lost_or_not_eligible(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 80)

    def status(member_id):
        return services.member_lottery_status(campaign=after_cutoff, member_id=member_id, eligible=True)

    assert status(ids[0]) == "not_drawn"
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    assert status(ids[0]) == "not_drawn"
    draw = services.draw_perform(draw=draw, user=alice)
    order = independent_winners(draw.seed, ids, 80)
    with CaptureQueriesContext(connection) as queries:
        assert status(order[0]) == "won"
    assert len(queries) == 1
    assert status(order[79]) == "lost"
    assert status("NOBODY") == "not_eligible"


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(eligible=st.integers(min_value=0, max_value=12), winners_count=st.integers(min_value=1, max_value=8))
def test_stored_winners_are_distinct_eligible_and_min_of_count_and_eligible(
    after_cutoff, alice, bob, eligible, winners_count
):
    with transaction.atomic():
        after_cutoff.lottery_winners = winners_count
        after_cutoff.save()
        ids = eligible_members(after_cutoff, eligible, prefix="H")
        draw = services.draw_confirm(draw=drawn(after_cutoff, alice), user=bob)
        winners = list(services.current_winners(draw=draw).values_list("member_id", flat=True))
        assert winners == independent_winners(draw.seed, ids, winners_count)
        assert len(set(winners)) == min(winners_count, eligible)
        assert LedgerLine.objects.filter(reward="lottery").count() == len(winners)
        assert verification.draw_verify(draw=draw).ok
        transaction.set_rollback(True)
