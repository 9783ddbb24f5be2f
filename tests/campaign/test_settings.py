from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ImproperlyConfigured

from campaign import clock
from campaign.env import env_bool, env_datetime, env_int, env_list, env_url, parse_datetime_jst

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_env_bool_reads_common_spellings_and_refuses_others(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")


def test_env_int_and_list(monkeypatch):
    monkeypatch.setenv("X_INT", "12")
    assert env_int("X_INT", 3) == 12
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("X_INT", 3)
    monkeypatch.setenv("X_HOSTS", "a.example, b.example,,")
    assert env_list("X_HOSTS", []) == ["a.example", "b.example"]


def test_portal_now_parses_offsets_z_and_naive_jst(monkeypatch):
    monkeypatch.setenv("PORTAL_NOW", "2026-03-06T07:30:00Z")
    assert env_datetime("PORTAL_NOW") == datetime(2026, 3, 6, 7, 30, tzinfo=UTC)
    monkeypatch.setenv("PORTAL_NOW", "2026-03-06 07:30:00")
    parsed = env_datetime("PORTAL_NOW")
    assert parsed.utcoffset() == timedelta(hours=9)
    assert parsed == datetime(2026, 3, 5, 22, 30, tzinfo=UTC)
    monkeypatch.setenv("PORTAL_NOW", "next tuesday")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_NOW='next tuesday' is not an ISO 8601 time"):
        env_datetime("PORTAL_NOW")


def test_env_url_checks_the_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ImproperlyConfigured, match="must start with one of"):
        env_url("DATABASE_URL", ("postgres", "sqlite"))


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_NOW")}
    base.update(env)
    code = f"import django; django.setup(); from django.conf import settings; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "campaign.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_url_unset_means_sqlite_and_set_means_postgres():
    sqlite = _settings_in_subprocess({}, "settings.DATABASES['default']['ENGINE']")
    assert sqlite.stdout.strip() == "django.db.backends.sqlite3"
    pg = _settings_in_subprocess(
        {"DATABASE_URL": "postgres://u:p@db.example:5433/wesmo"},
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'], "
        "settings.DATABASES['default']['PORT']",
    )
    assert pg.stdout.strip() == "django.db.backends.postgresql wesmo 5433"


def test_broker_unset_runs_tasks_inline_and_set_uses_the_broker():
    inline = _settings_in_subprocess({}, "settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_TASK_EAGER_PROPAGATES")
    assert inline.stdout.strip() == "True True"
    real = _settings_in_subprocess(
        {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/3"}, "settings.CELERY_TASK_ALWAYS_EAGER"
    )
    assert real.stdout.strip() == "False"


def test_a_bad_variable_stops_the_portal_with_a_clear_message():
    result = _settings_in_subprocess({"PORTAL_NOW": "yesterday"}, "1")
    assert result.returncode != 0
    assert "PORTAL_NOW='yesterday' is not an ISO 8601 time" in result.stderr
    result = _settings_in_subprocess({"DJANGO_DEBUG": "perhaps"}, "1")
    assert "DJANGO_DEBUG='perhaps' is not a boolean" in result.stderr


def test_language_and_time_zone_are_japanese(settings):
    assert settings.LANGUAGE_CODE == "ja"
    assert [code for code, _ in settings.LANGUAGES] == ["ja", "en"]
    assert settings.TIME_ZONE == "Asia/Tokyo" and settings.USE_TZ


def test_check_deploy_passes_with_production_values():
    env = {
        "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-0123456789-abcdefghijklmnop",
        "DJANGO_ALLOWED_HOSTS": "stamprally.example.jp",
        "PORTAL_HTTPS": "1",
    }
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_NOW")}
    base.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    base.pop(
        "DJANGO_SETTINGS_MODULE", None
    )  # the portal's own settings, not the tests' (tests/settings.py)  # a test harness setting, never a deployment's
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_secret_key_check_deploy_warns():
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, "PORTAL_HTTPS": "1", "DJANGO_ALLOWED_HOSTS": "x.example"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_clock_is_real_time_unless_portal_now_is_set(settings):
    settings.PORTAL_NOW = None
    before = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= clock.now() <= datetime.now(UTC) + timedelta(seconds=1)
    settings.PORTAL_NOW = parse_datetime_jst("2026-03-20T12:00:00+09:00")
    assert clock.now() == datetime(2026, 3, 20, 3, 0, tzinfo=UTC)


def test_clock_fixture_fixes_the_time(clock):
    clock("2026-03-31 23:59:59")
    assert clock_now_jst() == "2026-03-31 23:59:59"


def clock_now_jst() -> str:
    return clock.now().astimezone(timezone(timedelta(hours=9))).strftime("%Y-%m-%d %H:%M:%S")
