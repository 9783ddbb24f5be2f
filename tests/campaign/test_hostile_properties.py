"""Hypothesis (issue 18 §2): arbitrary JSON bodies and path segments at every endpoint, never a 500.

Bodies: any JSON (wide, with odd Unicode and lone surrogates), deeply nested brackets, and
records shaped like transactions whose values are anything. Paths: every URL of the site, the
API and the admin, with any text (NUL, control characters, broken UTF-8, formulas) in an id's
place or a query string. The answer may refuse, never fail: no status of 500 or above.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory

EXAMPLES = 120
HYPOTHESIS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

odd_text = st.text(st.characters(codec=None, categories=None), max_size=80) | st.sampled_from(
    ["\x00", "A\x00B", "\ud800", '=HYPERLINK("http://x")', "+cmd|'/Ccalc'!A0", "-1+1", "@SUM(1+1)", "\t1", "M1"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(odd_text, children, max_size=6),
    max_leaves=40,
)
record_keys = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
records = st.fixed_dictionaries({}, optional={key: json_values for key in [*record_keys, "original_transaction_id"]})


def _deep(depth: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    inner = '{"a":' if opener == "{" else "["
    return (inner * depth) + "1" * (opener == "{") + (closer * depth)


bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value, ensure_ascii=True)),
    st.lists(records, max_size=5).map(lambda items: json.dumps({"transactions": items}, ensure_ascii=True)),
    st.builds(
        lambda member, extra: json.dumps({"member_id": member, "video": extra, "entered_at": extra}),
        json_values,
        json_values,
    ),
    st.builds(_deep, st.integers(1, 100_000), st.sampled_from(["[", "{"])),
    st.text(max_size=50),  # not JSON at all
)
POSTS = ["/api/v1/transactions", "/api/v1/entries", "/api/v1/video-views", "/videos/video-1/watched"]


def _segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _path_templates() -> list[str]:
    templates = [
        "/api/v1/members/{}/progress",
        "/api/v1/members/{}/transactions",
        "/api/v1/members/M1/transactions?page={}",
        "/api/v1/me/transactions?page_size={}",
        "/api/v1/campaign?{}=1",
        "/api/v1/lottery?x={}",
        "/members/{}/stamps/",
        "/videos/{}/start",
        "/stamps/?{}",
        "/merchants/?q={}",
        "/lottery/?x={}",
        "/api/schema/?format={}",
        "/{}",
        "/api/v1/{}",
    ]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        templates += [base + "{}/change/", base + "?q={}", base + "?member__member_id={}", base + "{}/history/"]
    return templates


@pytest.fixture
def clients(system_client, admin_client, in_campaign):
    user = UserFactory(username="M4000009")
    EntryFactory(member=MemberFactory(member_id="M4000009", user=user))
    member = Client()
    member.force_login(user)
    for client in (system_client, admin_client, member):
        client.raise_request_exception = False
    return {"system": system_client, "admin": admin_client, "member": member}


@HYPOTHESIS
@given(url=st.sampled_from(POSTS), body=bodies)
def test_no_body_sent_to_an_endpoint_gets_a_server_error(clients, url, body):
    client = clients["member"] if url.startswith("/videos/") else clients["system"]
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code < 500, (url, body[:200], response.content[:300])


@HYPOTHESIS
@given(template=st.sampled_from(_path_templates()), text=odd_text, who=st.sampled_from(["system", "admin", "member"]))
def test_no_path_segment_or_query_at_any_endpoint_gets_a_server_error(clients, template, text, who):
    url = template.format(_segment(text))
    response = clients[who].get(url)
    assert response.status_code < 500, (url, response.content[:300])
