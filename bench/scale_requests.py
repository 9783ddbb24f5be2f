"""The requests bench/scale.py times, in the bench's own process through Django's test Client.

Each figure is p50/p95 over ``samples`` requests (random members for the member-keyed ones); a
request that does not answer 200 with its expected content stops the bench. Django must be set up.
"""

from __future__ import annotations

import random
import statistics
import time
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client

from campaign.auth import api_client_create
from campaign.models import Campaign, ImportBatch, Member
from missions.models import Mission
from missions.rule_preview import affected_members_sample
from missions.services import rule_change_preview

ADMIN_USER = "scale-admin"
MEMBER_USERS = 50  # members with a sign-in, for the stamp card page
RNG = random.Random(2026)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _timed(client: Client, url: str, expect: bytes, **headers) -> float:
    started = time.perf_counter()
    response = client.get(url, **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    seconds = time.perf_counter() - started
    if response.status_code != 200 or expect not in body:
        raise SystemExit(f"GET {url}: {response.status_code}, expected {expect!r} in the answer")
    return seconds


def members_sample(count: int) -> list[str]:
    """Random members with records (ids ``M0000000`` …, as bench/scale_build.py and bench/import.py make them)."""
    total = Member.objects.count()
    candidates = [f"M{i:07d}" for i in RNG.sample(range(total), min(total, count * 3))]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m FROM unnest(%s::varchar[]) m WHERE EXISTS (SELECT 1 FROM campaign_transaction t"
            " WHERE t.member_id = m)",
            [candidates],
        )
        found = [row[0] for row in cursor.fetchall()]
    return RNG.sample(found, min(count, len(found)))


def admin_client() -> Client:
    User = get_user_model()
    user = User.objects.filter(username=ADMIN_USER).first() or User.objects.create_superuser(
        ADMIN_USER, "scale@example.com", "scale-admin-password"
    )
    client = Client()
    client.force_login(user)
    return client


def api_token() -> str:
    _user, token = api_client_create(name=f"scale-{time.time_ns()}")
    return token


def member_clients(members: list[str]) -> list[Client]:
    """Clients signed in as ``members`` (users created and linked on first use)."""
    User = get_user_model()
    clients = []
    for member_id in members:
        user, _created = User.objects.get_or_create(username=f"scale-{member_id}")
        Member.objects.filter(user=user).exclude(pk=member_id).update(user=None)
        Member.objects.filter(pk=member_id).update(user=user)
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def member_requests(*, samples: int) -> dict[str, tuple[float, float]]:
    """The progress API and the stamp card page for random members: {name: (p50 s, p95 s)}."""
    cache.clear()
    token = api_token()
    api = Client()
    members = members_sample(samples)
    api_s = [
        _timed(api, f"/api/v1/members/{m}/progress", b'"courses"', HTTP_AUTHORIZATION=f"Token {token}") for m in members
    ]
    clients = member_clients(members[:MEMBER_USERS])
    page_s = [_timed(RNG.choice(clients), "/stamps/", b"stamp") for _ in range(samples)]
    return {"progress API": percentiles(api_s[1:]), "stamp card page": percentiles(page_s[1:])}


def push_to_stamp(*, members: list[str], rounds: int, per_push: int) -> list[float]:
    """POST a first charge for ``per_push`` quiet members, then poll their progress until casual-1 shows cleared.

    Returns the seconds from each push to the first progress answer showing its stamp.
    """
    token = api_token()
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    latencies: list[float] = []
    for round_number in range(rounds):
        batch = members[round_number * per_push : (round_number + 1) * per_push]
        records = [
            {
                "transaction_id": f"P{round_number}-{m}",
                "member_id": m,
                "type": "charge",
                "amount": 3000,
                "occurred_at": "2026-03-31T18:00:00+09:00",
                "charge_method": "card",
            }
            for m in batch
        ]
        started = time.perf_counter()
        answer = client.post("/api/v1/transactions", {"transactions": records}, content_type="application/json")
        if answer.status_code != 200 or answer.json()["accepted"] != len(batch):
            raise SystemExit(f"push refused: {answer.status_code} {answer.content[:300]!r}")
        pending = set(batch)
        while pending:
            if time.perf_counter() - started > 120:
                raise SystemExit(f"no stamp 120 s after the push for {sorted(pending)[:3]}")
            for member_id in sorted(pending):
                document = client.get(f"/api/v1/members/{member_id}/progress").json()
                missions = {m["code"]: m for c in document["courses"] for m in c["missions"]}
                if missions["casual-1"]["cleared"]:
                    pending.discard(member_id)
                    latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    return latencies


LIST = b'id="changelist"'


def day(field: str, number: int) -> str:
    """The query of DateFieldListFilter for one JST day of March 2026 (aware bounds, as its own links)."""
    return urlencode(
        {
            f"{field}__gte": f"2026-03-{number:02d} 00:00:00+09:00",
            f"{field}__lt": f"2026-03-{number + 1:02d} 00:00:00+09:00",
        }
    )


def _admin_urls(campaign: Campaign, member: str) -> list[tuple[str, str, bytes]]:
    """(name, URL, expected text) of every list staff use, with its filters and searches."""
    batch = ImportBatch.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    mission = Mission.objects.filter(campaign=campaign, code="mania-5").values_list("pk", flat=True).first()
    tx, entry = "/admin/campaign/transaction/", "/admin/campaign/entry/"
    stamp, ledger = "/admin/missions/stamp/", "/admin/missions/ledgerline/"
    return [
        ("transactions", tx, LIST),
        ("transactions by member", f"{tx}?q={member}", LIST),
        ("transactions by id", f"{tx}?q=T{RNG.randrange(1, 1000)}", LIST),
        ("transactions by date", f"{tx}?{day('occurred_at', 15)}", LIST),
        ("transactions by import", f"{tx}?import_batch={batch}", LIST),
        ("transactions cancels", f"{tx}?type__exact=cancel", LIST),
        ("transactions voided", f"{tx}?void=yes", LIST),
        ("transactions bonus", f"{tx}?bonus=yes", LIST),
        ("members", "/admin/campaign/member/", LIST),
        ("members by id", f"/admin/campaign/member/?q={member}", LIST),
        ("member page", f"/admin/campaign/member/{member}/change/", member.encode()),
        ("entries", entry, LIST),
        ("entries by member", f"{entry}?q={member}", LIST),
        ("entries by date", f"{entry}?{day('entered_at', 20)}", LIST),
        ("stamps", stamp, LIST),
        ("stamps by member", f"{stamp}?q={member}", LIST),
        ("stamps by mission, cleared", f"{stamp}?mission__id__exact={mission}&cleared__exact=1", LIST),
        ("stamp cards eligible", "/admin/missions/stampcard/?lottery_eligible__exact=1", LIST),
        ("stamp cards by stamps", "/admin/missions/stampcard/?stamps=5", LIST),
        ("ledger lines", ledger, LIST),
        ("ledger lines by member", f"{ledger}?q={member}", LIST),
        ("ledger lines by reward", f"{ledger}?reward=mania-6", LIST),
        ("ledger lines not exported", f"{ledger}?export__isnull=True", LIST),
        ("video views", "/admin/campaign/videoview/", LIST),
    ]


def admin_requests(*, samples: int) -> dict[str, tuple[float, float]]:
    """Every admin list, the member page and the warm dashboard: {name: (p50 s, p95 s)}."""
    campaign = Campaign.objects.current()
    client = admin_client()
    members = members_sample(samples)
    timings: dict[str, list[float]] = {}
    for member in members:
        for name, url, expect in _admin_urls(campaign, member):
            timings.setdefault(name, []).append(_timed(client, url, expect))
    cache.clear()
    dashboard = "/admin/campaign/campaign/dashboard/"
    cold = _timed(client, dashboard, b"dashboard")  # the answer while a worker computes the figures
    started = time.perf_counter()
    while b"dashboard-pending" in client.get(dashboard).content:
        if time.perf_counter() - started > 600:
            raise SystemExit("the dashboard's figures were not computed within 10 minutes")
        time.sleep(0.5)
    computed = time.perf_counter() - started
    timings["dashboard (warm)"] = [_timed(client, dashboard, b"entries-total") for _ in range(samples)]
    result = {name: percentiles(values[1:] or values) for name, values in timings.items()}
    result["dashboard (cold)"] = (cold, cold)
    result["dashboard figures (worker)"] = (computed, computed)
    return result


def rule_preview() -> tuple[float, str]:
    """The dry run of raising casual-2's minimum amount, as the mission page shows it: (seconds, summary)."""
    campaign = Campaign.objects.current()
    edited = Mission.objects.get(campaign=campaign, code="casual-2")
    edited.min_amount = 1000
    started = time.perf_counter()
    preview = rule_change_preview(campaign=campaign, missions=[edited])
    sample = affected_members_sample(campaign=campaign, edited=edited)
    seconds = time.perf_counter() - started
    result = preview.result
    return seconds, (
        f"{result.members_changed:,} members changed, {result.points_delta:+,} points "
        f"({'estimated from ' + format(preview.sampled, ',') if preview.estimated else 'exact'}), "
        f"{len(sample)} affected members listed"
    )
