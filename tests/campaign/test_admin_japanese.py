"""Every admin page of every staff role speaks Japanese: no English word of the framework, the
third-party apps (django-axes, django-import-export, simple-history) or our own code leaks through."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from simple_history.admin import SimpleHistoryAdmin

from campaign.imports.uploads import import_upload_create
from campaign.roles import LOTTERY, MARKETING, OPERATIONS
from lottery import services as lottery_services
from missions.exporting import points_export_create
from tests.campaign.factories import UserFactory
from tests.lottery.factories import eligible_members, officer

# English that staff must never see on a Japanese page (whole words, case-sensitive).
ENGLISH = [
    "Select",
    "Add",
    "Change",
    "Delete",
    "Save",
    "Search",
    "Filter",
    "History",
    "Export",
    "Import",
    "Access attempts",
    "Access failures",
    "Access logs",
    "Action",
    "Go",
    "Show",
    "Yes",
    "No",
    "Unknown",
    "Today",
    "Log out",
    "View site",
    "Welcome",
    "entries",
    "members",
    "points",
    "Download",
    "computed",
    "not_drawn",
    "limited",
    "basic",
    "cleared",
    "committed",
    "drawn",
    "confirmed",
    "pending",
    "This exporter",
    "following fields",
    "Import finished",
    "matching query",
    "does not exist",
    "None",
    "True",
    "False",
    "Submit",
    "Confirm",
    "Draw",
    "Forfeit",
    "payment",
    "charge",
    "cancel",
    "Member",
    "Mission",
    "Merchant",
    "District",
    "Course",
    "Campaign",
    "Video",
    # Permission names (the superuser's user and group pages) and the staff action log's messages.
    "Can",
    "Access Log",
    "Failed access",
    "Attempted Access",
    "Uploaded",
    "Re-scored",
    "Entered",
    "Rule change",
    "ledger lines",
    "through",
    "historical",
    "Historical",
    "payments",
    "consecutive",
    "merchants",
    "eligible",
    "yes",
    "no",
    "Missions",
    "Revert",
    "watched",
    "Axes",
    "Locked Out",
    "expiration",
    # Django's English times ("March 20, 2026, noon", "12:00 p.m.").
    "a.m.",
    "p.m.",
    "noon",
    "midnight",
]
WORD = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH) + r")(?![\w-])")
# An ISO timestamp, a machine's "2026-03-20 12:00", or Django's Japanese default 「2026年3月20日12:00」:
# staff read 「3月20日(金) 12:00」 (campaign/formats).
# An example of what to type (「例：2026-03-10 12:00」) is not a time shown.
ISO_TIME = re.compile(
    r"(?<!例：)(?<!e\.g\. )\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{4}年\d{1,2}月\d{1,2}日\s*\d{1,2}:\d{2}"
)
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
NOT_SHOWN = {"script", "style", "template"}
# What staff typed is data, in whatever language they wrote it (the English texts of a mission).
DATA = {"textarea"}


class VisibleText(HTMLParser):
    """The text a person sees: text outside script/style, button labels, titles and placeholders."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in NOT_SHOWN | DATA:
            self._hidden.append(tag)
        if self._hidden:
            return
        for name in SHOWN_ATTRIBUTES & attrs.keys():
            # Django's yes/no icons carry a fixed alt="True"/"False"/"None" that its catalogue cannot translate.
            if name == "alt" and "/admin/img/icon-" in (attrs.get("src") or ""):
                continue
            self.parts.append(attrs[name] or "")
        if tag == "input" and attrs.get("type") in {"submit", "button"}:
            self.parts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


OBJECT_PARAMETERS = {"object_id", "pk", "draw_id"}  # a custom page of one object (not a chart's CSV)
TEST_ONLY_APPS = {"oauth2_provider"}  # the OIDC provider of the sign-in tests (tests/settings.py)


def admin_pages(user) -> list[str]:
    """Every admin page ``user`` may open with GET: index, changelists, add and change forms, history, custom pages."""
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in TEST_ONLY_APPS or not model_admin.has_view_or_change_permission(request):
            continue
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{info}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{info}_add"))
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is not None:
            urls += [reverse(f"{info}_change", args=[obj.pk]), reverse(f"{info}_history", args=[obj.pk])]
            record = obj.history.order_by("pk").first() if isinstance(model_admin, SimpleHistoryAdmin) else None
            if record is not None:  # simple-history's page of one past version (view or revert)
                urls.append(reverse(f"{info}_simple_history", args=[obj.pk, record.pk]))
        for pattern in model_admin.get_urls():
            name = pattern.name or ""
            if not name or name.rsplit("_", 1)[-1] in {"changelist", "add", "change", "history", "delete"}:
                continue
            parameters = set(getattr(pattern.pattern, "converters", {}))
            if not parameters:
                urls.append(reverse(f"admin:{name}"))
            elif parameters <= OBJECT_PARAMETERS and len(parameters) == 1 and obj is not None:
                try:
                    urls.append(reverse(f"admin:{name}", args=[obj.pk]))
                except NoReverseMatch:
                    continue
    return sorted(set(urls))


@pytest.fixture
def running_campaign(clock, campaign, settings, tmp_path):
    """The demo data, then after the cut-off a draw committed, drawn, a forfeit recorded, an upload and an export."""
    settings.MEDIA_ROOT = tmp_path / "media"
    clock("2026-03-20T12:00:00+09:00")
    call_command("demo_data", "--members", "40", stdout=StringIO())
    clock("2026-04-15T10:00:00+09:00")
    eligible_members(campaign, 5, prefix="L")
    alice = officer("alice")
    draw = lottery_services.draw_commit(campaign=campaign, user=alice)
    lottery_services.draw_perform(draw=draw, user=alice)
    winner = draw.entrants.filter(outcome="winner").values_list("member_id", flat=True).first()
    lottery_services.forfeit_record(draw=draw, member_id=winner, reason="連絡がつかない", user=alice)
    # What operations leave in the staff action log (the superuser's pages show it): an upload, an export.
    ops = UserFactory(username="ops-log", is_staff=True)
    import_upload_create(campaign=campaign, upload=SimpleUploadedFile("tx.csv", b"transaction_id\n"), user=ops)
    points_export_create(campaign=campaign, user=ops, encoding="cp932")
    return campaign


def staff(role: str):
    if role == "superuser":
        return UserFactory(username="root", is_staff=True, is_superuser=True)
    user = UserFactory(username=f"staff-{role}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("role", [MARKETING, OPERATIONS, LOTTERY, "superuser"])
def test_every_admin_page_of_every_role_is_in_japanese(client, running_campaign, role):
    user = staff(role)
    client.force_login(user)
    leaks = {}
    pages = admin_pages(user)
    assert len(pages) > 5
    for url in pages:
        response = client.get(url, follow=True)
        if response.status_code == 405:  # a POST-only step (draw, re-score): its form is on another page
            continue
        assert response.status_code == 200, url
        if not response["Content-Type"].startswith("text/html"):
            continue
        text = visible_text(response.content.decode())
        found = sorted(set(WORD.findall(text)) | set(ISO_TIME.findall(text)))
        if found:
            leaks[url] = found
    assert not leaks, "\n".join(f"{url}: {words}" for url, words in leaks.items())


def english_in(response) -> list[str]:
    text = visible_text(response.content.decode())
    return sorted(set(WORD.findall(text)) | set(ISO_TIME.findall(text)))


@pytest.mark.django_db
def test_the_confirmation_pages_of_irreversible_steps_are_in_japanese(client, running_campaign):
    from lottery.models import Draw
    from missions.models import Mission
    from tests.missions.test_admin_missions import form_data

    draw = Draw.objects.get()
    client.force_login(staff(LOTTERY))
    # The steps the fixture's drawn draw with its pending forfeit allows (tests/lottery: draw, forfeit).
    for url, data in [
        (reverse("admin:lottery_draw_confirm", args=[draw.pk]), {}),
        (reverse("admin:lottery_draw_forfeit_confirm", args=[draw.pk, draw.forfeits.get().pk]), {}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 200 and 'name="confirm_id"' in response.content.decode()
        assert english_in(response) == [], url
    client.force_login(staff(MARKETING))
    mission = Mission.objects.get(code="mania-6")
    response = client.post(
        reverse("admin:missions_mission_change", args=[mission.pk]), form_data(mission, target_count=6)
    )
    assert 'id="dry-run"' in response.content.decode()
    assert english_in(response) == []


@pytest.mark.django_db
def test_staff_can_switch_the_back_office_to_english_and_back(client, campaign):
    client.force_login(staff(MARKETING))
    dashboard = reverse("admin:campaign_dashboard")
    page = client.get(dashboard).content.decode()
    assert "日別エントリー数（日本時間）と累計" in page and 'value="en"' in page
    response = client.post(reverse("set_language"), {"language": "en", "next": dashboard}, follow=True)
    page = response.content.decode()
    assert "Entries per day (JST) and in total" in page and 'value="ja"' in page
    client.post(reverse("set_language"), {"language": "ja", "next": dashboard})
    assert "日別エントリー数（日本時間）と累計" in client.get(dashboard).content.decode()


@pytest.mark.django_db
def test_every_admin_page_has_the_sites_icon_not_a_404_for_favicon_ico(client, campaign):
    icon = 'rel="icon" href="/static/site/favicon.svg" type="image/svg+xml"'
    assert icon in client.get(reverse("admin:login")).content.decode()
    client.force_login(UserFactory(username="root-icon", is_staff=True, is_superuser=True))
    for name in ["admin:index", "admin:campaign_transaction_changelist", "admin:campaign_dashboard"]:
        assert icon in client.get(reverse(name)).content.decode(), name
    assert icon in client.get(reverse("admin:campaign_importbatch_upload")).content.decode()


@pytest.mark.django_db
def test_amounts_and_points_in_lists_have_thousands_separators(admin_client, running_campaign):
    from campaign.models import Transaction
    from missions.models import LedgerLine

    big = Transaction.objects.filter(amount__gte=10000).order_by("-id").first()
    page = admin_client.get(reverse("admin:campaign_transaction_changelist") + f"?q={big.transaction_id}")
    assert f'<td class="field-amount">{big.amount:,}</td>' in page.content.decode()
    prize = LedgerLine.objects.filter(points__gte=1000).first()
    page = admin_client.get(reverse("admin:missions_ledgerline_changelist") + f"?q={prize.member_id}")
    assert f"{prize.points:,}" in page.content.decode()
