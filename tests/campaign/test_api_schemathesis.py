"""Schemathesis against /api/schema/ (issue 15 §6): every operation, a bounded number of examples.

Generated requests, valid and invalid, go through the real WSGI application (in this process, on
the test database): no answer is a server error, every status code and body is one the schema
documents. On PostgreSQL only, where a bad value reaches the database that refuses it.
"""

from __future__ import annotations

import contextlib

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 25


# Loaded once at collection, through the application itself (no database is needed for the schema);
# as a request through the HTTPS proxy, since the settings, outside a test, redirect plain http.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application(), headers={"X-Forwarded-Proto": "https"}
)


@contextlib.contextmanager
def connections_kept():
    """As Django's test client does: the request must not close the test's connection (its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(postgres_only, in_campaign) -> str:
    from campaign.auth import api_client_create

    _user, key = api_client_create(name="schemathesis")
    return key


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(case, token):
    # A fresh application: its middleware reads the test's settings (plain http, conftest.py).
    with connections_kept():
        response = case.call(app=get_wsgi_application(), headers={"Authorization": f"Token {token}"})
    case.validate_response(
        response,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
