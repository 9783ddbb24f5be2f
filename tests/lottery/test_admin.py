"""The draw in the admin: the lottery group's steps, four eyes, refusals and the winners export."""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest
from django.utils import translation
from django.utils.translation import gettext

from lottery import services, verification
from lottery.models import Draw, DrawStatus, Forfeit
from missions.models import LedgerLine
from tests.campaign.factories import UserFactory
from tests.campaign.test_admin_japanese import english_in
from tests.lottery.factories import eligible_members

pytestmark = pytest.mark.usefixtures("english")


ADMIN = "/admin/lottery/draw/"


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_the_whole_workflow_through_the_admin(client, after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    client.force_login(alice)
    assert client.get(f"{ADMIN}add/").url == f"{ADMIN}commit/"
    assert client.get(f"{ADMIN}commit/").status_code == 200
    response = client.post(f"{ADMIN}commit/", {"campaign": after_cutoff.pk}, follow=True)
    draw = Draw.objects.get()
    html = response.content.decode()
    assert draw.seed_hash in html and draw.eligible_hash in html and "100" in html
    assert draw.seed not in html
    eligible = client.get(f"{ADMIN}{draw.pk}/eligible.txt").content
    assert hashlib.sha256(eligible).hexdigest() == draw.eligible_hash and eligible.count(b"\n") == 100

    response = client.post(f"{ADMIN}{draw.pk}/draw/", {"confirm_id": draw.pk}, follow=True)
    draw.refresh_from_db()
    assert draw.status == DrawStatus.DRAWN and draw.seed in response.content.decode()
    assert draw.cutoff_digest in response.content.decode()

    response = client.post(f"{ADMIN}{draw.pk}/confirm/", {"confirm_id": draw.pk}, follow=True)
    assert "another lottery officer" in messages_of(response)
    assert Draw.objects.get().status == DrawStatus.DRAWN

    client.force_login(bob)
    client.post(f"{ADMIN}{draw.pk}/confirm/", {"confirm_id": draw.pk})
    assert Draw.objects.get().status == DrawStatus.CONFIRMED
    assert LedgerLine.objects.filter(reward="lottery").count() == 77

    first = services.current_winners(draw=draw).first().member_id
    response = client.post(
        f"{ADMIN}{draw.pk}/forfeit/", {"member_id": first, "reason": "辞退", "confirm_id": first}, follow=True
    )
    forfeit = Forfeit.objects.get()
    assert forfeit.replacement_member_id and "second officer" in messages_of(response)
    client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/", {"confirm_id": first})
    assert Forfeit.objects.get().status == "pending"  # bob recorded it: bob cannot confirm it
    client.force_login(alice)
    client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/", {"confirm_id": first})
    assert Forfeit.objects.get().status == "confirmed"

    rows = list(
        csv.DictReader(io.StringIO(client.get(f"{ADMIN}{draw.pk}/winners.csv?encoding=utf-8").content.decode()))
    )
    assert len(rows) == 78
    by_member = {r["member_id"]: r for r in rows}
    assert by_member[first]["outcome"] == "forfeited" and by_member[first]["forfeit_reason"] == "辞退"
    assert by_member[first]["points_awarded"] == "0"
    replacement = by_member[forfeit.replacement_member_id]
    assert replacement["outcome"] == "replacement" and replacement["replaces"] == first
    assert replacement["points_awarded"] == "5000" and replacement["rank"] == "78"

    cp932 = client.get(f"{ADMIN}{draw.pk}/winners.csv?encoding=cp932")
    assert cp932["Content-Type"] == "text/csv; charset=cp932"
    assert "辞退" in cp932.content.decode("cp932")
    assert verification.draw_verify(draw=draw).ok
    assert "recompute to the stored values" in client.get(f"{ADMIN}{draw.pk}/change/?verify=1").content.decode()


def test_the_draw_and_forfeit_pages_name_the_officers_without_links_that_answer_403(client, after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    services.draw_confirm(draw=draw, user=bob)
    forfeit = services.forfeit_record(
        draw=draw, member_id=services.current_winners(draw=draw).first().member_id, reason="辞退", user=bob
    )
    services.forfeit_confirm(forfeit=forfeit, user=alice)
    client.force_login(alice)
    for url in [f"{ADMIN}{draw.pk}/change/", f"/admin/lottery/forfeit/{forfeit.pk}/change/"]:
        page = client.get(url).content.decode()
        assert "alice" in page and "bob" in page, url
        for link in set(re.findall(r'href="(/admin/[^"]*/change/)"', page)):
            assert client.get(link).status_code == 200, (url, link)
    assert str(after_cutoff) in client.get(f"{ADMIN}{draw.pk}/change/").content.decode()


def test_drawing_first_shows_what_will_happen_and_needs_the_draw_number_typed(client, after_cutoff, alice):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    client.force_login(alice)
    page = client.post(f"{ADMIN}{draw.pk}/draw/").content.decode()
    assert Draw.objects.get().status == DrawStatus.COMMITTED  # the first click only asks
    assert "100" in page and "77" in page and 'name="confirm_id"' in page
    assert f"Type the draw number {draw.pk}" in page
    page = client.post(f"{ADMIN}{draw.pk}/draw/", {"confirm_id": draw.pk + 1}).content.decode()
    assert "nothing was done" in page and Draw.objects.get().status == DrawStatus.COMMITTED
    # The page asked for the draw number: the message does not speak of an id, and names the input it is about.
    assert "does not match" in page and "id shown" not in page
    assert 'aria-invalid="true" aria-describedby="id_confirm_id_error"' in page
    with translation.override("ja"):
        assert (
            gettext("What you typed does not match: nothing was done.")
            == "入力された値が一致しません。何も実行していません。"
        )
    client.post(f"{ADMIN}{draw.pk}/draw/", {"confirm_id": draw.pk})
    assert Draw.objects.get().status == DrawStatus.DRAWN


def test_confirming_shows_the_points_it_awards_before_it_awards_them(client, after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    client.force_login(bob)
    page = client.post(f"{ADMIN}{draw.pk}/confirm/").content.decode()
    assert "77 winners are each awarded 5,000" in page and "385,000 points in total" in page
    assert not LedgerLine.objects.filter(reward="lottery").exists()


def test_a_forfeit_needs_the_winners_member_id_typed_again(client, after_cutoff, alice):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    first = services.current_winners(draw=draw).first().member_id
    client.force_login(alice)
    page = client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": first, "reason": "辞退"}).content.decode()
    assert not Forfeit.objects.exists()
    assert f'name="member_id" value="{first}"' in page and "辞退" in page  # carried to the second click
    client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": first, "reason": "辞退", "confirm_id": "M9999999"})
    assert not Forfeit.objects.exists()
    client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": first, "reason": "辞退", "confirm_id": first})
    assert Forfeit.objects.get().member_id == first


def test_commit_before_the_cutoff_is_refused_in_the_admin(client, clock, campaign, alice):
    clock("2026-04-01T09:00:00+09:00")
    client.force_login(alice)
    response = client.post(f"{ADMIN}commit/", {"campaign": campaign.pk}, follow=True)
    assert "data cut-off" in messages_of(response)
    assert not Draw.objects.exists()


def test_the_admin_never_edits_or_deletes_a_draw(client, after_cutoff, alice):
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    client.force_login(alice)
    assert client.get(f"{ADMIN}{draw.pk}/delete/").status_code == 403
    client.post(f"{ADMIN}{draw.pk}/change/", {"seed_hash": "0" * 64})
    assert Draw.objects.get().seed_hash == draw.seed_hash


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "commit/"), ("post", "{id}/draw/"), ("post", "{id}/confirm/"), ("get", "{id}/winners.csv")],
)
def test_staff_outside_the_lottery_group_get_403(client, after_cutoff, alice, method, path):
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    staff = UserFactory(username="marketing", is_staff=True)
    client.force_login(staff)
    response = getattr(client, method)(ADMIN + path.format(id=draw.pk))
    assert response.status_code == 403
    assert Draw.objects.get().status == DrawStatus.COMMITTED


def test_a_second_commit_from_another_tab_says_the_draw_exists_and_opens_it(client, after_cutoff, alice):
    eligible_members(after_cutoff, 10)
    client.force_login(alice)
    client.post(f"{ADMIN}commit/", {"campaign": after_cutoff.pk})
    draw = Draw.objects.get()
    # The second tab (or a double click) posts the same campaign again.
    response = client.post(f"{ADMIN}commit/", {"campaign": after_cutoff.pk})
    assert response.status_code == 302 and response.url == f"{ADMIN}{draw.pk}/change/"
    assert "already has its draw" in messages_of(client.get(response.url))
    assert Draw.objects.get().seed_hash == draw.seed_hash
    # Opening the commit page again leads to the draw, not to an empty choice.
    response = client.get(f"{ADMIN}commit/")
    assert response.status_code == 302 and response.url == f"{ADMIN}{draw.pk}/change/"
    assert "already has its draw" in messages_of(client.get(response.url))


def test_confirming_a_forfeit_with_nobody_left_promises_no_replacement(client, after_cutoff, alice, bob):
    members = eligible_members(after_cutoff, 5)  # fewer than 77: everyone wins, nobody is left
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    services.draw_confirm(draw=draw, user=bob)
    forfeit = services.forfeit_record(draw=draw, member_id=members[0], reason="辞退", user=bob)
    client.force_login(alice)
    page = client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/").content.decode()
    assert "becomes a winner" not in page and "awarded" not in page
    assert f"Nobody replaces {members[0]}" in page
    response = client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/", {"confirm_id": members[0]}, follow=True)
    assert Forfeit.objects.get().status == "confirmed"
    assert "replacement is a winner" not in messages_of(response)
    assert "nobody replaces the winner" in messages_of(response)


def test_confirming_a_forfeit_before_the_draw_is_confirmed_moves_no_points(client, after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    first = services.current_winners(draw=draw).first().member_id
    forfeit = services.forfeit_record(draw=draw, member_id=first, reason="辞退", user=alice)
    client.force_login(bob)
    page = client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/").content.decode()
    assert "reversed in the ledger" not in page and "is awarded 5,000" not in page
    assert "when the draw is confirmed" in page
    client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/", {"confirm_id": first})
    assert not LedgerLine.objects.filter(reward="lottery").exists()


def test_a_step_the_officer_may_not_take_is_refused_before_anything_is_typed(client, after_cutoff, alice, bob):
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    client.force_login(alice)
    # alice drew: the confirmation page would ask her to type the number, then refuse her.
    response = client.post(f"{ADMIN}{draw.pk}/confirm/")
    assert response.status_code == 302
    assert "another lottery officer" in messages_of(client.get(response.url))
    # A second tab still showing "draw": the draw is done, say so at once.
    response = client.post(f"{ADMIN}{draw.pk}/draw/")
    assert response.status_code == 302 and "drawn already" in messages_of(client.get(response.url))
    # A member ID that is no winner: no page that promises "NOPE loses the prize".
    response = client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": "NOPE", "reason": "辞退"})
    assert response.status_code == 302 and "NOPE is not a winner" in messages_of(client.get(response.url))
    first = services.current_winners(draw=draw).first().member_id
    forfeit = services.forfeit_record(draw=draw, member_id=first, reason="辞退", user=alice)
    response = client.post(f"{ADMIN}{draw.pk}/forfeits/{forfeit.pk}/confirm/")
    assert response.status_code == 302 and "recorded it" in messages_of(client.get(response.url))
    assert Draw.objects.get().status == DrawStatus.DRAWN and Forfeit.objects.get().status == "pending"
    # The officer who may take the step still gets the confirmation page first.
    client.force_login(bob)
    assert 'name="confirm_id"' in client.post(f"{ADMIN}{draw.pk}/confirm/").content.decode()


def test_the_draw_page_says_everyone_wins_when_fewer_are_eligible_than_winners(client, after_cutoff, alice):
    eligible_members(after_cutoff, 5)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    client.force_login(alice)
    page = client.get(f"{ADMIN}{draw.pk}/change/").content.decode()
    assert "take the smallest 5 and reveal" in page and "smallest 77" not in page


def test_the_draw_and_forfeit_confirmation_pages_are_in_japanese(client, after_cutoff, alice, settings):
    settings.LANGUAGE_CODE = "ja"
    eligible_members(after_cutoff, 100)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    client.force_login(alice)
    with translation.override("ja"):
        response = client.post(f"{ADMIN}{draw.pk}/draw/")
        assert 'name="confirm_id"' in response.content.decode() and english_in(response) == []
        services.draw_perform(draw=draw, user=alice)
        winner = services.current_winners(draw=draw).first().member_id
        response = client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": winner, "reason": "辞退"})
        assert 'name="confirm_id"' in response.content.decode() and english_in(response) == []


def test_a_forfeit_form_with_a_wrong_field_says_which_and_why(client, after_cutoff, alice):
    eligible_members(after_cutoff, 10)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    services.draw_perform(draw=draw, user=alice)
    client.force_login(alice)
    response = client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": "M" * 65, "reason": "辞退"}, follow=True)
    assert "Winner's member ID" in messages_of(response) and "at most 64 characters" in messages_of(response)
    response = client.post(f"{ADMIN}{draw.pk}/forfeit/", {"member_id": "M0000001", "reason": "a\x00b"}, follow=True)
    assert "Reason" in messages_of(response) and "Null characters" in messages_of(response)
    assert not Forfeit.objects.exists()
