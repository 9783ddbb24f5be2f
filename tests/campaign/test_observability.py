"""JSON log lines with the request and member ids, and error reports to Sentry (issue 17 §3)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from campaign.observability import JsonLineFormatter, RequestContextFilter, log_member_bind, request_context
from campaign.sentry import sentry_init
from tests.campaign.test_broker_down import broker_down  # noqa: F401 (a fixture)


@pytest.fixture
def log_lines():
    """Every log line written while the test runs, as the production handler writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_line_is_one_json_object_with_the_request_and_member_ids(log_lines):
    with request_context(request_id="req-1"):
        log_member_bind("M1")
        logging.getLogger("campaign.test").warning("scored %s", "M1")
    logging.getLogger("campaign.test").warning("outside")
    inside, outside = log_lines()
    assert inside["message"] == "scored M1" and inside["level"] == "WARNING" and inside["logger"] == "campaign.test"
    assert (inside["request_id"], inside["member_id"]) == ("req-1", "M1")
    assert "request_id" not in outside and "member_id" not in outside
    assert inside["time"].endswith("+00:00")


def test_an_exception_is_kept_in_the_same_line(log_lines):
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("campaign.test").exception("failed")
    (line,) = log_lines()
    assert "ValueError: bad" in line["exception"]


def test_every_answer_carries_a_request_id_and_keeps_a_sane_one_from_the_proxy(client, in_campaign):
    generated = client.get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/api/v1/campaign", HTTP_X_REQUEST_ID="lb-abc.123")["X-Request-ID"] == "lb-abc.123"
    assert client.get("/api/v1/campaign", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


@pytest.mark.usefixtures("broker_down")
def test_a_broker_refusal_is_logged_with_the_request_and_member_but_no_secret(system_client, in_campaign, log_lines):
    response = system_client.post("/api/v1/entries", {"member_id": "M-LOG"}, format="json")
    assert response.status_code == 201
    (line,) = [line for line in log_lines() if line["logger"] == "campaign.queueing"]
    assert line["level"] == "ERROR" and "the broker refused missions.tasks.members_score_task" in line["message"]
    assert line["member_id"] == "M-LOG"
    assert line["request_id"] == response["X-Request-ID"]
    token = system_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert token not in json.dumps(log_lines())


def test_django_request_warnings_carry_the_request_id(client, db, log_lines):
    response = client.get("/api/v1/members/M1/progress")
    assert response.status_code in (401, 403)
    (line,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]


class _Captured(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def sentry():
    transport = _Captured()
    sentry_init(dsn="https://public@sentry.example.invalid/1", environment="test", transport=transport)
    yield transport
    sentry_sdk.init()  # no DSN: nothing is sent any more


def test_sentry_reports_an_unhandled_error_of_a_request_without_the_token(
    system_client, in_campaign, sentry, monkeypatch
):
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    client = sentry_sdk.get_client()
    assert client.get_integration(DjangoIntegration) and client.get_integration(CeleryIntegration)
    monkeypatch.setattr("campaign.api.transactions_ingest", lambda **_: 1 / 0)
    system_client.raise_request_exception = False
    assert system_client.post("/api/v1/transactions", {"transactions": []}, format="json").status_code == 500
    sentry_sdk.flush()
    (event,) = sentry.events
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert event["environment"] == "test"
    token = system_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert token not in json.dumps(event, default=str)


@pytest.mark.parametrize("dsn, active", [("", False), ("https://public@sentry.example.invalid/1", True)])
def test_the_settings_start_sentry_with_both_integrations_only_when_a_dsn_is_set(dsn, active):
    code = (
        "import django; django.setup(); import sentry_sdk;"
        "from sentry_sdk.integrations.celery import CeleryIntegration as C;"
        "from sentry_sdk.integrations.django import DjangoIntegration as D; c = sentry_sdk.get_client();"
        "print(c.is_active(), bool(c.get_integration(C)), bool(c.get_integration(D)))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "campaign.settings", "SENTRY_DSN": dsn}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == [str(active)] * 3, result.stderr
