"""POST /api/v1/transactions (SPEC 3.3): answer shape, idempotence, rejections by index, bad bodies."""

from __future__ import annotations

import json

import pytest

from campaign.models import Member, Transaction
from tests.campaign.factories import TransactionFactory, jst

pytestmark = pytest.mark.usefixtures("english")


URL = "/api/v1/transactions"


def payment(tid="T1", **overrides):
    record = {
        "transaction_id": tid,
        "member_id": "M1",
        "type": "payment",
        "amount": 1000,
        "points_used": 0,
        "merchant_code": "SHOP-1",
        "occurred_at": "2026-03-06T07:30:00+09:00",
    }
    record.update(overrides)
    return record


def post(client, records, **extra):
    return client.post(URL, {"transactions": records}, format="json", **extra)


def test_valid_records_are_stored_and_counted(system_client, in_campaign):
    charge = {
        "transaction_id": "C1",
        "member_id": "M2",
        "type": "チャージ",
        "amount": "10,000",
        "occurred_at": "2026-03-03 08:00:00",
        "charge_method": "seven_atm",
    }
    response = post(system_client, [payment(), charge])
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = Transaction.objects.get(transaction_id="C1")
    assert (stored.type, stored.amount, stored.charge_method, stored.source) == ("charge", 10000, "seven_atm", "api")
    assert stored.occurred_at == jst("2026-03-03 08:00")
    assert Member.objects.filter(member_id__in=["M1", "M2"]).count() == 2


def test_sending_a_batch_twice_changes_nothing_the_second_time(system_client, in_campaign):
    records = [payment("T1"), payment("T2", amount=500)]
    assert post(system_client, records).json()["accepted"] == 2
    again = post(system_client, records)
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert Transaction.objects.count() == 2


def test_rejected_records_are_listed_by_index_with_errors_by_field(system_client, in_campaign):
    response = post(
        system_client,
        [payment("T1"), payment("T2", amount=-5), payment("T3", merchant_code=""), payment("T4")],
    )
    body = response.json()
    assert response.status_code == 200
    assert body["accepted"] == 2
    assert [(r["index"], r["transaction_id"]) for r in body["rejected"]] == [(1, "T2"), (2, "T3")]
    assert "amount" in body["rejected"][0]["errors"] and "-5" in body["rejected"][0]["errors"]["amount"][0]
    assert "merchant_code" in body["rejected"][1]["errors"]
    assert set(Transaction.objects.values_list("transaction_id", flat=True)) == {"T1", "T4"}


def test_a_duplicate_inside_one_batch_is_counted_and_a_different_one_is_a_conflict(system_client, in_campaign):
    response = post(system_client, [payment("T1"), payment("T1"), payment("T1", amount=999)])
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert body["rejected"][0]["index"] == 2
    assert "different content" in body["rejected"][0]["errors"]["transaction_id"][0]
    assert Transaction.objects.get(transaction_id="T1").amount == 1000


def test_a_conflict_with_a_stored_record_keeps_the_stored_one(system_client, in_campaign):
    TransactionFactory(transaction_id="T1", amount=700)
    body = post(system_client, [payment("T1", amount=800)]).json()
    assert body["accepted"] == 0 and len(body["rejected"]) == 1
    assert Transaction.objects.get(transaction_id="T1").amount == 700


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (payment(transaction_id=""), "transaction_id"),
        (payment(transaction_id="x" * 65), "transaction_id"),
        (payment(member_id="M 1"), "member_id"),
        (payment(type="refund"), "type"),
        (payment(amount="12.5"), "amount"),
        (payment(amount=12.5), "amount"),
        (payment(amount="abc"), "amount"),
        (payment(points_used=1001), "points_used"),
        (payment(occurred_at="yesterday"), "occurred_at"),
        (payment(occurred_at="2026-02-28T12:00:00+09:00"), "occurred_at"),
        (payment(occurred_at="2026-03-15T13:00:00+09:00"), "occurred_at"),  # in the future of the clock
        (payment(charge_method="card"), "charge_method"),
        (payment(amount=[1]), "amount"),
        (payment(member_id="M\x001"), "member_id"),
        ({**payment(), "type": "cancel"}, "original_transaction_id"),
        ({**payment(), "type": "charge", "merchant_code": "SHOP-1"}, "merchant_code"),
        ({**payment(), "type": "charge", "merchant_code": "", "points_used": 5}, "points_used"),
    ],
)
def test_each_rule_rejects_by_api(system_client, in_campaign, record, field):
    body = post(system_client, [record]).json()
    assert body["accepted"] == 0
    assert field in body["rejected"][0]["errors"], body
    assert Transaction.objects.count() == 0


def test_an_item_that_is_not_an_object_is_rejected_alone(system_client, in_campaign):
    body = post(system_client, ["nope", payment()]).json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [("null", "non_field_errors"), ('{"transaction_id": "T9", "amount": 1e400}', "amount")],
)
def test_a_null_item_or_a_huge_number_is_rejected_alone_not_the_whole_batch(system_client, in_campaign, item, field):
    body = '{"transactions": [' + item + ", " + json.dumps(payment()) + "]}"
    response = system_client.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["rejected"][0]["index"]) == (1, 0)
    assert field in answer["rejected"][0]["errors"]
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == ["T1"]


def test_after_the_data_cutoff_every_record_is_refused(system_client, campaign, clock):
    clock("2026-04-11T00:00:00+09:00")
    body = post(system_client, [payment()]).json()
    assert "cut-off" in body["rejected"][0]["errors"]["non_field_errors"][0]
    assert Transaction.objects.count() == 0


def test_a_cancel_is_accepted_after_the_period_until_the_cutoff(system_client, campaign, clock):
    clock("2026-04-05T12:00:00+09:00")
    cancel = {
        "transaction_id": "X1",
        "member_id": "M1",
        "type": "cancel",
        "amount": 1000,
        "occurred_at": "2026-04-02T10:00:00+09:00",
        "original_transaction_id": "T1",
    }
    late_payment = payment("T9", occurred_at="2026-04-02T10:00:00+09:00")
    body = post(system_client, [cancel, late_payment]).json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["transaction_id"] == "T9"
    assert "outside the campaign period" in body["rejected"][0]["errors"]["occurred_at"][0]


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+09:00", "0001-01-01 00:00:00"])
def test_a_cancel_dated_before_the_year_1_in_utc_is_rejected_alone_not_a_500(system_client, in_campaign, occurred_at):
    cancel = {"transaction_id": "X1", "member_id": "M1", "type": "cancel", "occurred_at": occurred_at}
    cancel["original_transaction_id"] = "T1"
    system_client.raise_request_exception = False
    response = post(system_client, [cancel, payment("T2")])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"][0]["index"]) == (1, 0)
    assert "before the year 1 in UTC" in body["rejected"][0]["errors"]["occurred_at"][0]
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == ["T2"]


def test_a_cancel_dated_long_before_the_period_is_still_accepted(system_client, in_campaign):
    cancel = {"transaction_id": "X1", "member_id": "M1", "type": "cancel", "original_transaction_id": "T1"}
    body = post(system_client, [dict(cancel, occurred_at="0001-01-01T00:00:00Z")]).json()
    assert (body["accepted"], body["rejected"]) == (1, [])


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('{"transactions": {"a": 1}}', "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ('{"transactions": 5}', "application/json", 400),
        ("transactions=1", "application/x-www-form-urlencoded", 415),
        ("<xml/>", "application/xml", 415),
    ],
)
def test_a_body_of_the_wrong_shape_gets_a_clear_4xx(system_client, in_campaign, body, content_type, status):
    response = system_client.generic("POST", URL, body, content_type=content_type)
    assert response.status_code == status
    assert response.json()  # a message, not an HTML error page


def test_more_than_1000_records_are_refused_whole(system_client, in_campaign):
    response = post(system_client, [payment(f"T{i}") for i in range(1001)])
    assert response.status_code == 400
    assert "transactions" in response.json()
    assert Transaction.objects.count() == 0


def test_1000_records_are_accepted_in_one_call(system_client, in_campaign):
    response = post(system_client, [payment(f"T{i}", member_id=f"M{i % 50}") for i in range(1000)])
    assert response.json()["accepted"] == 1000


def test_a_body_beyond_the_upload_limit_gets_413(system_client, in_campaign, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = system_client.generic("POST", URL, json.dumps({"transactions": [payment()] * 30}), "application/json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_only_system_clients_may_post(client, admin_client, in_campaign):
    assert client.post(URL, {"transactions": []}, content_type="application/json").status_code in (401, 403)
    assert admin_client.post(URL, {"transactions": []}, content_type="application/json").status_code == 403


def test_the_system_api_is_throttled(system_client, in_campaign, settings):
    from django.core.cache import cache

    cache.clear()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "system": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.throttling import ScopedRateThrottle

    previous = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [post(system_client, []).status_code for _ in range(3)]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = previous
        cache.clear()
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("member_id", ["M 1", "ＭＦ１", "会員1"])
def test_a_member_id_with_a_space_or_full_width_letters_is_told_its_form_not_control_characters(
    system_client, in_campaign, member_id
):
    body = post(system_client, [payment(member_id=member_id)]).json()
    message = body["rejected"][0]["errors"]["member_id"][0]
    assert "letters, digits or symbols, without spaces" in message
    assert "control characters" not in message


def test_a_member_id_with_a_control_character_is_still_told_so(system_client, in_campaign):
    body = post(system_client, [payment(member_id="M\x071")]).json()
    assert "control characters" in body["rejected"][0]["errors"]["member_id"][0]


def _limited_points(client, member_id: str) -> int:
    return client.get(f"/api/v1/members/{member_id}/progress").json()["points"]["limited"]


def test_a_cancel_sent_with_another_member_id_withdraws_the_originals_stamps_at_once(
    system_client, in_campaign, django_capture_on_commit_callbacks
):
    """R8: the outcome never depends on the order; a cancel stored first voids its original on
    arrival, so a cancel stored after it must withdraw the original's stamps as well."""
    with django_capture_on_commit_callbacks(execute=True):
        system_client.post("/api/v1/entries", {"member_id": "M1"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        post(system_client, [payment("T1", amount=5000, merchant_code="KOBE-01")])
    assert _limited_points(system_client, "M1") > 0
    cancel = {"transaction_id": "X1", "member_id": "M2", "type": "cancel", "original_transaction_id": "T1"}
    with django_capture_on_commit_callbacks(execute=True):
        body = post(system_client, [dict(cancel, occurred_at="2026-03-07T10:00:00+09:00")]).json()
    assert body["accepted"] == 1
    assert _limited_points(system_client, "M1") == 0
