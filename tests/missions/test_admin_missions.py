"""Missions in the admin: rule validation messages, and a rule change after the start previewed by a dry run."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import translation

from campaign.roles import MARKETING
from missions.models import Mission, Stamp
from tests.campaign.test_roles import staff_in
from tests.missions.factories import EntryFactory, MemberFactory, pay, score

pytestmark = pytest.mark.django_db

BOOLEANS = ["bonus_merchants_only", "counts_for_lottery", "is_active"]
TEXTS = [
    "code",
    "order",
    "label_ja",
    "label_en",
    "title_ja",
    "title_en",
    "description_ja",
    "description_en",
    "kind",
    "min_amount",
    "target_count",
    "reward_points",
    "point_type",
]


def form_data(mission: Mission, **changes) -> dict:
    data = {name: getattr(mission, name) for name in TEXTS}
    data.update(campaign=mission.campaign_id, course=mission.course_id)
    data["unit_points"] = mission.unit_points or ""
    data["window_start"] = mission.window_start.strftime("%H:%M") if mission.window_start else ""
    data["window_end"] = mission.window_end.strftime("%H:%M") if mission.window_end else ""
    data["weekdays"] = list(mission.weekdays)
    data["requires"] = [m.pk for m in mission.requires.all()]
    for name in BOOLEANS:
        if getattr(mission, name):
            data[name] = "on"
    data.update(changes)
    for name in BOOLEANS:
        if data.get(name) is False:
            del data[name]
    return data


def change_url(mission: Mission) -> str:
    return reverse("admin:missions_mission_change", args=[mission.pk])


@pytest.fixture
def mania5(campaign, clock):
    clock("2026-02-20 12:00")  # before the start: saving needs no dry run
    return Mission.objects.get(campaign=campaign, code="mania-5")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"window_start": "10:00", "window_end": "05:00"}, "window_end", "must start before it ends"),
        ({"window_start": "10:00", "window_end": "10:00"}, "window_end", "must start before it ends"),
        ({"window_start": "10:00", "window_end": ""}, "window_end", "both ends"),
        ({"min_amount": -1}, "min_amount", "cannot be negative"),
        ({"reward_points": -200}, "reward_points", "cannot be negative"),
        ({"target_count": 0}, "target_count", "at least 1"),
        ({"weekdays": [5, 8]}, "weekdays", "not a weekday"),
    ],
)
def test_invalid_rules_are_refused_with_a_message(admin_client, mania5, changes, field, message):
    response = admin_client.post(change_url(mania5), form_data(mania5, **changes), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    with translation.override("en"):
        assert message in " ".join(str(error) for error in form.errors[field])
    mania5.refresh_from_db()
    assert mania5.min_amount == 3000 and mania5.window_start is None


def test_a_valid_change_before_the_start_is_saved_directly_with_history(admin_client, admin_user, mania5):
    response = admin_client.post(
        change_url(mania5), form_data(mania5, title_en="Pay 3,000 yen once", weekdays=[5, 6, 7])
    )
    assert response.status_code == 302
    mania5.refresh_from_db()
    assert mania5.title_en == "Pay 3,000 yen once" and mania5.weekdays == [5, 6, 7]
    assert mania5.history.latest().history_user == admin_user


@pytest.fixture
def paid(in_campaign):
    """Four entered members paying 3,000 / 3,200 / 3,500 / 4,000 yen once: all clear mania-5 at 3,000."""
    members = []
    for index, amount in enumerate([3000, 3200, 3500, 4000]):
        member = MemberFactory(member_id=f"M-{amount}")
        EntryFactory(campaign=in_campaign, member=member)
        pay(member, f"2026-03-0{index + 3} 12:00", amount)
        members.append(member)
    score(in_campaign, *members)
    assert Stamp.objects.filter(mission__code="mania-5", cleared=True).count() == 4
    return members


def test_a_rule_change_after_the_start_shows_the_dry_run_first_and_changes_nothing(admin_client, in_campaign, paid):
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    response = admin_client.post(change_url(mission), form_data(mission, min_amount=3500))
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.members_changed, result.stamps_changed, result.points_delta) == (2, 2, -400)
    assert result.reversals == 2
    page = response.content.decode()
    assert 'name="_rescore_confirmed"' in page
    mission.refresh_from_db()
    assert mission.min_amount == 3000
    assert Stamp.objects.filter(mission__code="mania-5", cleared=True).count() == 4


def test_the_dry_run_lists_every_affected_member_with_figures_that_add_up(admin_client, in_campaign, paid):
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    response = admin_client.post(change_url(mission), form_data(mission, min_amount=3500))
    result, sample = response.context["result"], response.context["sample"]
    assert response.context["sample_complete"]
    assert sorted(effect.member_id for effect in sample) == ["M-3000", "M-3200"] and result.members_changed == 2
    assert sum(e.stamps_changed for e in sample) == result.stamps_changed
    assert sum(e.awards for e in sample) == result.awards and sum(e.reversals for e in sample) == result.reversals
    assert sum(e.points_delta for e in sample) == result.points_delta
    # Both lose the stamp: the changed stamps are withdrawn ones, and the page's parts add up to its total.
    effect = response.context["effect"]
    assert (effect.stamps_new, effect.stamps_withdrawn, effect.stamps_progress) == (0, 2, 0)
    for part in ("stamps_new", "stamps_withdrawn", "stamps_progress"):
        assert sum(getattr(e, part) for e in sample) == getattr(effect, part)
    page = response.content.decode()
    assert '<td class="number" id="stamps-changed">2</td>' in page
    assert '<td class="number" id="stamps-withdrawn">2</td>' in page
    assert (
        '<td class="number" id="stamps-new">0</td>' in page and '<td class="number" id="stamps-progress">0</td>' in page
    )
    for effect in sample:  # each affected member links to their page
        assert reverse("admin:campaign_member_change", args=[effect.member_id]) in page
    assert 'id="sample-totals"' in page


def test_marketing_sees_the_affected_members_without_links_to_member_pages_it_cannot_open(client, in_campaign, paid):
    client.force_login(staff_in(MARKETING))  # may change missions, may not view members (403)
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    response = client.post(change_url(mission), form_data(mission, min_amount=3500))
    assert response.status_code == 200 and response.context["sample"]
    page = response.content.decode()
    for effect in response.context["sample"]:
        assert effect.member_id in page
        assert reverse("admin:campaign_member_change", args=[effect.member_id]) not in page


def test_a_parameter_that_contradicts_the_mission_text_is_warned_about(admin_client, in_campaign, paid):
    mission = Mission.objects.get(campaign=in_campaign, code="mania-6")  # 期間中 10 日間…
    response = admin_client.post(change_url(mission), form_data(mission, target_count=6))
    warnings = response.context["warnings"]
    assert any("10 日間" in w and "6" in w for w in warnings), warnings
    assert 'id="text-warnings"' in response.content.decode()
    # The text changed with the parameter: nothing to warn about.
    response = admin_client.post(
        change_url(mission),
        form_data(
            mission,
            target_count=6,
            title_ja="期間中 6 日間、1 回税込 300 円以上利用",
            title_en="Pay 300 yen or more on 6 different days",
            description_ja="税込 300 円以上のお支払いがあった日が、期間中に 6 日",
            description_en="Six different days in the period with a payment of 300 yen or more.",
        ),
    )
    assert response.context["warnings"] == []


def test_confirming_saves_and_rescores_in_the_background(
    admin_client, admin_user, in_campaign, paid, django_capture_on_commit_callbacks
):
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    data = form_data(mission, min_amount=3500, _rescore_confirmed="1")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change_url(mission), data)
    assert response.status_code == 302
    mission.refresh_from_db()
    assert mission.min_amount == 3500
    cleared = set(Stamp.objects.filter(mission=mission, cleared=True).values_list("member_id", flat=True))
    assert cleared == {"M-3500", "M-4000"}
    # Written in the staff member's language (Japanese by default), naming the field as the form does.
    log = LogEntry.objects.get(object_id=str(mission.pk), user=admin_user, change_message__contains="再集計")
    with translation.override("ja"):
        assert str(Mission._meta.get_field("min_amount").verbose_name) in log.change_message


def test_a_text_change_after_the_start_needs_no_confirmation(admin_client, in_campaign, paid):
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    response = admin_client.post(change_url(mission), form_data(mission, title_en="New title"))
    assert response.status_code == 302
    mission.refresh_from_db()
    assert mission.title_en == "New title"


def test_saving_any_mission_unchanged_after_the_start_needs_no_confirmation(admin_client, in_campaign):
    for mission in Mission.objects.filter(campaign=in_campaign).prefetch_related("requires"):
        response = admin_client.post(change_url(mission), form_data(mission, title_en=mission.title_en + "!"))
        assert response.status_code == 302, (mission.code, response.context and response.context.get("result"))


def test_a_large_campaign_previews_a_rule_change_on_a_sample_scaled_to_every_member(
    admin_client, in_campaign, paid, monkeypatch
):
    from missions import services

    monkeypatch.setattr(services, "PREVIEW_SAMPLE", 2)  # 2 of the 4 scored members
    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    response = admin_client.post(change_url(mission), form_data(mission, min_amount=3500))
    assert response.status_code == 200
    preview, result = response.context["preview"], response.context["result"]
    assert (preview.sampled, preview.members, preview.estimated) == (2, 4, True)
    # Each sampled member paying under 3,500 yen loses the stamp and its 200 points, counted twice.
    assert result.members_changed in (0, 2, 4)
    assert result.stamps_changed == result.reversals == result.members_changed
    assert result.points_delta == -200 * result.members_changed
    assert 'id="dry-run-sample"' in response.content.decode()
    mission.refresh_from_db()
    assert mission.min_amount == 3000


def test_a_small_campaign_previews_every_member_exactly(in_campaign, paid):
    from missions.services import rule_change_preview

    mission = Mission.objects.get(campaign=in_campaign, code="mania-5")
    mission.min_amount = 3500
    preview = rule_change_preview(campaign=in_campaign, missions=[mission], sample=4)
    assert (preview.sampled, preview.members, preview.estimated) == (4, 4, False)
    assert (preview.result.members_changed, preview.result.points_delta) == (2, -400)


def test_the_dry_run_of_a_lowered_target_counts_new_stamps_and_progress_only_ones_apart(admin_client, in_campaign):
    days = MemberFactory(member_id="M-DAYS")
    once = MemberFactory(member_id="M-ONCE")
    for member in (days, once):
        EntryFactory(campaign=in_campaign, member=member)
    for day in (3, 4, 5):
        pay(days, f"2026-03-0{day} 12:00", 500)
    pay(once, "2026-03-03 12:00", 500)
    score(in_campaign, days, once)
    mission = Mission.objects.get(campaign=in_campaign, code="mania-6")
    response = admin_client.post(change_url(mission), form_data(mission, target_count=2))
    effect = response.context["effect"]
    # M-DAYS clears mania-6 (3 days of 2); M-ONCE's stamp keeps 1 day, now of 2: its target alone changes.
    assert effect.stamps_new >= 1 and effect.stamps_withdrawn == 0 and effect.stamps_progress >= 1
    assert effect.stamps_new + effect.stamps_withdrawn + effect.stamps_progress == effect.result.stamps_changed
    sample = {e.member_id: e for e in response.context["sample"]}
    assert sample["M-DAYS"].stamps_new >= 1 and sample["M-ONCE"].stamps_progress == 1
