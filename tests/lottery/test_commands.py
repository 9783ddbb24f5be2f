"""``manage.py lottery …`` and ``manage.py verify_draw ID`` (SPEC 3.2)."""

from __future__ import annotations

import hashlib
import hmac
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lottery.models import Draw, DrawEntrant, DrawStatus, Outcome
from missions.models import LedgerLine
from tests.lottery.factories import eligible_members, guards_disabled

pytestmark = pytest.mark.usefixtures("english")


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def verify(draw_id: int) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_draw", str(draw_id), stdout=out, stderr=StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def confirmed_draw(after_cutoff, alice, bob) -> Draw:
    eligible_members(after_cutoff, 100)
    draw_id = int(run("lottery", "commit", "--user", "alice")[-1])
    run("lottery", "draw", str(draw_id), "--user", "alice")
    run("lottery", "confirm", str(draw_id), "--user", "bob")
    return Draw.objects.get(pk=draw_id)


def test_the_whole_workflow_through_the_commands(after_cutoff, alice, bob, carol):
    ids = eligible_members(after_cutoff, 100)
    lines = run("lottery", "commit", "--campaign", after_cutoff.code, "--user", "alice")
    draw = Draw.objects.get(pk=int(lines[-1]))
    assert lines[-1] == str(draw.pk)
    assert f"seed_hash {draw.seed_hash}" in lines and draw.seed not in "\n".join(lines)

    drawn = run("lottery", "draw", str(draw.pk), "--user", "alice")
    draw.refresh_from_db()
    assert draw.seed in drawn[0]
    seed = bytes.fromhex(draw.seed)
    order = sorted(ids, key=lambda m: hmac.new(seed, m.encode(), hashlib.sha256).hexdigest())
    assert [line.split()[1] for line in drawn[1:]] == order[:77]

    with pytest.raises(CommandError, match="another lottery officer"):
        run("lottery", "confirm", str(draw.pk), "--user", "alice")
    run("lottery", "confirm", str(draw.pk), "--user", "bob")
    assert LedgerLine.objects.filter(reward="lottery").count() == 77

    recorded = run("lottery", "forfeit", str(draw.pk), order[0], "--reason", "declined", "--user", "bob")
    assert order[77] in recorded[0]
    with pytest.raises(CommandError, match="another lottery officer"):
        run("lottery", "forfeit", str(draw.pk), order[0], "--user", "bob")
    confirmed = run("lottery", "forfeit", str(draw.pk), order[0], "--user", "carol")
    assert "Confirmed forfeit #1" in confirmed[0]
    assert DrawEntrant.objects.get(draw=draw, member_id=order[77]).outcome == Outcome.REPLACEMENT
    assert verify(draw.pk)[0] == 0


def test_commands_refuse_an_unknown_user_or_one_outside_the_lottery_group(after_cutoff, django_user_model):
    django_user_model.objects.create_user("ops", password="x")
    with pytest.raises(CommandError, match="No user"):
        run("lottery", "commit", "--user", "nobody")
    with pytest.raises(CommandError, match="lottery group"):
        run("lottery", "commit", "--user", "ops")
    assert not Draw.objects.exists()


def test_commit_before_the_cutoff_is_refused_with_the_reason(clock, campaign, alice):
    clock("2026-04-10T12:00:00+09:00")
    with pytest.raises(CommandError, match="data cut-off"):
        run("lottery", "commit", "--user", "alice")


def test_a_second_commit_for_the_campaign_is_refused(confirmed_draw, carol):
    with pytest.raises(CommandError, match="never replaced"):
        run("lottery", "commit", "--user", "carol")
    with pytest.raises(CommandError, match="never re-run"):
        run("lottery", "draw", str(confirmed_draw.pk), "--user", "carol")
    assert Draw.objects.count() == 1


def test_verify_draw_says_ok_for_an_untouched_draw(confirmed_draw):
    code, out = verify(confirmed_draw.pk)
    assert code == 0 and out.startswith("OK")


def test_verify_draw_detects_a_changed_seed(confirmed_draw):
    with guards_disabled():
        Draw.objects.filter(pk=confirmed_draw.pk).update(seed="ab" * 32)
    code, out = verify(confirmed_draw.pk)
    assert code == 1
    assert "seed_hash: stored" in out and "cutoff_digest" in out


def test_verify_draw_detects_a_changed_eligible_list(confirmed_draw):
    DrawEntrant.objects.create(draw=confirmed_draw, member_id="SNEAKED-IN", outcome=Outcome.LOST)
    code, out = verify(confirmed_draw.pk)
    assert code == 1
    assert "eligible_hash: stored" in out and "eligible_count: stored 100, frozen list has 101" in out


def test_verify_draw_detects_a_renamed_member_in_the_frozen_list(confirmed_draw):
    loser = confirmed_draw.entrants.filter(outcome=Outcome.LOST).first()
    with guards_disabled():
        DrawEntrant.objects.filter(pk=loser.pk).update(member_id="RENAMED")
    code, out = verify(confirmed_draw.pk)
    assert code == 1 and "eligible_hash" in out


def test_verify_draw_detects_a_changed_winner(confirmed_draw):
    winner = confirmed_draw.entrants.filter(outcome=Outcome.WINNER).order_by("rank").last()
    loser = confirmed_draw.entrants.filter(outcome=Outcome.LOST).first()
    DrawEntrant.objects.filter(pk=winner.pk).update(outcome=Outcome.LOST, rank=None, digest="")
    DrawEntrant.objects.filter(pk=loser.pk).update(outcome=Outcome.WINNER, rank=77, digest=winner.digest)
    code, out = verify(confirmed_draw.pk)
    assert code == 1
    assert "outcomes: 2 stored outcomes differ" in out and loser.member_id in out


def test_verify_draw_detects_a_prize_paid_twice_or_to_a_loser(confirmed_draw):
    loser = confirmed_draw.entrants.filter(outcome=Outcome.LOST).first()
    LedgerLine.objects.create(
        campaign=confirmed_draw.campaign,
        member_id=loser.member_id,
        reward="lottery",
        kind="award",
        points=5000,
        point_type="basic",
        reason="by hand",
        occurred_at=confirmed_draw.confirmed_at,
    )
    code, out = verify(confirmed_draw.pk)
    assert code == 1 and f"ledger: the lottery points of {loser.member_id}" in out


def test_verify_draw_of_a_committed_draw_checks_the_commitment(after_cutoff, alice):
    eligible_members(after_cutoff, 5)
    draw_id = int(run("lottery", "commit", "--user", "alice")[-1])
    assert Draw.objects.get(pk=draw_id).status == DrawStatus.COMMITTED
    assert verify(draw_id)[0] == 0


def test_verify_draw_of_an_unknown_draw_fails(db):
    with pytest.raises(CommandError, match="No draw 999"):
        call_command("verify_draw", "999", stdout=StringIO())
