"""Fixtures of the fault tests: PostgreSQL and a Redis server of the test's own, and real workers."""

from __future__ import annotations

import shutil

import pytest
from django.db import connection

from campaign.celery import app
from conftest import need
from tests.faults.processes import WORKER_APP, RedisServer, Worker, child_env


@pytest.fixture
def services(transactional_db):
    """PostgreSQL (the children share the test's database) and a redis-server binary to start and stop."""
    need("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://… to run the fault tests")
    need("Redis (redis-server)", shutil.which("redis-server") is not None, "apt-get install redis-server")


@pytest.fixture
def own_broker(services, monkeypatch):
    """A Redis of this test's own as the broker, for this process's tasks too (sent, not run inline)."""
    server = RedisServer()
    server.start()
    monkeypatch.setenv("CELERY_BROKER_URL", server.url())  # Celery reads the variable before its setting
    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, server.url()
    app._pool = app.amqp._producer_pool = None  # producers are pooled per broker: forget the configured one's
    yield server
    app.conf.task_always_eager, app.conf.broker_url = saved
    app._pool = app.amqp._producer_pool = None
    server.stop()


@pytest.fixture
def workers(own_broker, tmp_path):
    """``workers(beat=False, **env)`` starts a Celery worker on the test's broker and database; all are
    killed at the end, and their database sessions ended, before the test's tables are emptied."""
    started: list[Worker] = []

    def start(*, beat: bool = False, **env: str) -> Worker:
        log = tmp_path / f"worker{len(started)}.log"
        worker = Worker(child_env(broker=own_broker.url(), **env), log, beat=beat)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
    with connection.cursor() as cursor:  # a killed worker's backend may still hold its chunk's locks
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [WORKER_APP],
        )
