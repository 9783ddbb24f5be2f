"""The member's lottery status and prize in the progress document (SPEC 3.5) follow the draw."""

from __future__ import annotations

from lottery import services
from tests.lottery.factories import eligible_members, members_with_stamps


def lottery_of(system_client, member_id: str) -> tuple[str, int]:
    response = system_client.get(f"/api/v1/members/{member_id}/progress")
    assert response.status_code == 200
    body = response.json()
    return body["lottery"]["status"], body["points"]["basic"]


def test_progress_shows_not_drawn_then_won_lost_or_not_eligible_and_the_prize(system_client, after_cutoff, alice, bob):
    after_cutoff.lottery_winners = 2
    after_cutoff.save()
    ids = eligible_members(after_cutoff, 3)
    members_with_stamps(after_cutoff, ["PARTIAL"], missing=2)
    assert {lottery_of(system_client, m) for m in [*ids, "PARTIAL"]} == {("not_drawn", 0)}

    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    winners = set(services.current_winners(draw=draw).values_list("member_id", flat=True))
    (loser,) = set(ids) - winners
    assert {lottery_of(system_client, m) for m in winners} == {("won", 0)}
    assert lottery_of(system_client, loser) == ("lost", 0)
    assert lottery_of(system_client, "PARTIAL") == ("not_eligible", 0)

    services.draw_confirm(draw=draw, user=bob)
    assert {lottery_of(system_client, m) for m in winners} == {("won", 5000)}
    assert lottery_of(system_client, loser) == ("lost", 0)
