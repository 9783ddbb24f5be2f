"""Issue 18 §2 and §5, each reproduction: hostile bodies and URLs get a 4xx, formula-shaped ids are refused.

On PostgreSQL a NUL in a URL reached the database (DataError, a 500); on SQLite the same request
answered as if the id existed. Both now answer 404 (path) or 400 (query string) before any view.
"""

from __future__ import annotations

import json

import pytest

from campaign.models import Entry, ImportBatch, Member, VideoView

pytestmark = pytest.mark.usefixtures("english")

DEEP = "[" * 100_000 + "]" * 100_000


def _post(client, url, body: str):
    client.raise_request_exception = False
    return client.post(url, data=body, content_type="application/json")


def test_a_lone_surrogate_transaction_id_is_refused_and_the_answer_still_renders(system_client, in_campaign):
    record = {"transaction_id": "\ud800", "member_id": "M1", "type": "charge", "amount": 1000}
    record["occurred_at"] = "2026-03-05T10:00:00+09:00"
    response = _post(system_client, "/api/v1/transactions", json.dumps({"transactions": [record]}))
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"][0]["index"]) == (0, 0)
    assert body["rejected"][0]["transaction_id"] == "\ud800"  # echoed, escaped as \ud800 in the JSON text
    assert b"\\ud800" in response.content


def test_a_lone_surrogate_in_an_unknown_key_is_named_in_a_warning_without_failing(system_client, in_campaign):
    response = _post(system_client, "/api/v1/transactions", '{"transactions": [], "\\ud800x": 1}')
    assert response.status_code == 200
    assert "\ud800x" in response.json()["warnings"][0]


@pytest.mark.parametrize("url", ["/api/v1/transactions", "/api/v1/entries", "/api/v1/video-views"])
def test_a_hundred_thousand_nested_brackets_get_a_400_that_says_so(system_client, in_campaign, url):
    response = _post(system_client, url, DEEP)
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def test_a_body_nested_just_past_the_limit_is_refused_and_one_within_it_is_read(system_client, in_campaign):
    too_deep = '{"transactions": ' + "[" * 32 + "]" * 32 + "}"
    assert _post(system_client, "/api/v1/transactions", too_deep).status_code == 400
    within = '{"transactions": [[[]]]}'
    answer = _post(system_client, "/api/v1/transactions", within)
    assert answer.status_code == 200 and answer.json()["rejected"][0]["index"] == 0


def test_a_deep_body_to_the_sites_video_page_is_a_400(client, in_campaign):
    from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory

    user = UserFactory(username="M4000002")
    EntryFactory(member=MemberFactory(member_id="M4000002", user=user))
    client.force_login(user)
    assert _post(client, "/videos/video-1/watched", DEEP).status_code == 400
    assert _post(client, "/videos/video-1/watched", '{"played_seconds": 1' + "0" * 400 + "}").status_code == 400


@pytest.mark.parametrize("url", ["/api/v1/members/%00/progress", "/api/v1/members/A%00B/transactions"])
def test_a_nul_in_an_api_path_is_a_404_with_a_message(system_client, in_campaign, url):
    system_client.raise_request_exception = False
    response = system_client.get(url)
    assert response.status_code == 404
    assert "control character" in response.json()["detail"]


@pytest.mark.parametrize("member_id", ["%3DHYPERLINK(1)", "%40SUM(1%2B1)", "M%201", "%E3%83%A1", "x" * 65])
def test_a_member_id_no_member_can_have_is_a_404_in_the_api(system_client, in_campaign, member_id):
    assert system_client.get(f"/api/v1/members/{member_id}/progress").status_code == 404
    assert system_client.get(f"/api/v1/members/{member_id}/transactions").status_code == 404


def test_a_valid_unknown_member_id_still_gets_its_empty_progress(system_client, in_campaign):
    response = system_client.get("/api/v1/members/M-NEW/progress")
    assert response.status_code == 200 and response.json()["entered"] is False


@pytest.mark.parametrize(
    "url, status",
    [
        ("/admin/campaign/member/%00/change/", 404),
        ("/admin/campaign/member/?member__member_id=%00", 400),
        ("/admin/campaign/transaction/?member__member_id=%00", 400),
        ("/admin/campaign/member/?q=A%00", 400),
        ("/admin/merchants/district/not-a-number/history/", 404),
        ("/admin/missions/course/%3A/history/", 404),
    ],
)
def test_the_admin_answers_a_bad_id_or_filter_with_a_4xx(admin_client, in_campaign, url, status):
    admin_client.raise_request_exception = False
    assert admin_client.get(url).status_code == status


def test_a_search_with_a_tab_is_still_searched(admin_client, in_campaign):
    assert admin_client.get("/admin/campaign/member/?q=M1%09").status_code == 200


@pytest.mark.parametrize("member_id", ['=HYPERLINK("http://x")', "+cmd|'/Ccalc'!A0", "-1+1", "@SUM(1+1)", "=1"])
def test_formula_shaped_member_ids_are_refused_at_entries_and_video_views(system_client, in_campaign, member_id):
    entry = system_client.post("/api/v1/entries", {"member_id": member_id}, format="json")
    view = system_client.post("/api/v1/video-views", {"member_id": member_id, "video": "video-1"}, format="json")
    assert (entry.status_code, view.status_code) == (400, 400)
    assert entry.json()["code"] == "invalid_member_id"
    assert "formula" in entry.json()["detail"]
    assert not Member.objects.exists() and not Entry.objects.exists() and not VideoView.objects.exists()


def test_a_member_id_with_a_lone_surrogate_is_refused_at_entries(system_client, in_campaign):
    response = _post(system_client, "/api/v1/entries", '{"member_id": "M\\ud800"}')
    assert response.status_code == 400
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    "method, url", [("get", "/api/v1/campaign"), ("post", "/api/v1/entries"), ("post", "/api/v1/transactions")]
)
def test_with_no_campaign_running_the_api_answers_404_not_500(system_client, db, method, url):
    system_client.raise_request_exception = False
    body = {"member_id": "M1"} if url.endswith("entries") else {"transactions": []}
    response = getattr(system_client, method)(url, body, format="json") if method == "post" else system_client.get(url)
    assert response.status_code == 404
    assert response.json()["detail"] == "No campaign is running."


# A tab before the id is stripped as spaces are: what remains is judged.
@pytest.mark.parametrize("member_id", ['=HYPERLINK("http://x")', "+cmd|'/Ccalc'!A0", "-1+1", "@SUM(1+1)", "\t=1+1"])
def test_formula_shaped_ids_are_refused_in_a_push_and_the_rest_stored(system_client, in_campaign, member_id):
    good = {"transaction_id": "OK-1", "member_id": "M1", "type": "charge", "amount": 1000}
    good["occurred_at"] = "2026-03-05T10:00:00+09:00"
    bad = {**good, "transaction_id": "BAD-1", "member_id": member_id}
    answer = system_client.post("/api/v1/transactions", {"transactions": [bad, good]}, format="json").json()
    assert (answer["accepted"], [r["index"] for r in answer["rejected"]]) == (1, [0])
    assert "member_id" in answer["rejected"][0]["errors"]
    assert list(Member.objects.values_list("member_id", flat=True)) == ["M1"]


@pytest.mark.parametrize("field", ["amount", "points_used", "member_id", "transaction_id"])
def test_a_number_of_thousands_of_digits_rejects_its_record_not_the_push(system_client, in_campaign, field):
    """Python's int() refuses JSON numbers of over 4,300 digits: that was an English 400 for the whole body."""
    good = {"transaction_id": "OK-1", "member_id": "M1", "type": "payment", "amount": 1000, "points_used": 0}
    good |= {"occurred_at": "2026-03-05T10:00:00+09:00", "merchant_code": "m-blue-1"}
    huge = ("-" if field == "points_used" else "") + "1" * 5000
    bad = json.dumps({**good, "transaction_id": "BAD-1", field: "HUGE"}).replace('"HUGE"', huge)
    response = _post(system_client, "/api/v1/transactions", f'{{"transactions": [{bad}, {json.dumps(good)}]}}')
    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], [r["index"] for r in answer["rejected"]]) == (1, [0])
    assert list(answer["rejected"][0]["errors"]) == [field]


@pytest.mark.parametrize("url", ["/api/v1/entries", "/api/v1/video-views"])
def test_a_member_id_of_thousands_of_digits_is_refused_as_a_member_id(system_client, in_campaign, url):
    response = _post(system_client, url, '{"member_id": ' + "1" * 5000 + ', "video": "video-1"}')
    assert response.status_code == 400
    assert "member_id" in json.dumps(response.json()) and "JSON parse error" not in response.json().get("detail", "")
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/campaign/transaction/?import_batch=" + "1" * 5000,
        "/admin/campaign/transaction/?import_batch=%C2%B2",
        "/admin/campaign/transaction/?import_batch=" + "9" * 30,
        "/admin/missions/stampcard/?stamps=" + "1" * 5000,
        "/admin/missions/stampcard/?stamps=%C2%B2",
    ],
)
def test_a_list_filter_number_no_row_can_have_is_answered_as_django_answers_a_bad_filter(
    admin_client, in_campaign, url
):
    """int() of thousands of digits or of "²" (isdigit() yet not int()), or an id past a bigint, was a 500."""
    ImportBatch.objects.create(campaign=in_campaign, file_name="a.csv", sha256="0" * 64)  # the filter is offered
    admin_client.raise_request_exception = False
    response = admin_client.get(url)
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert admin_client.get(response["Location"]).status_code == 200
