"""Settings fail loudly: each case starts a fresh interpreter, as a deployment would."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from backcare.push.vapid import generate_private_key, private_key_to_raw_b64

ROOT = Path(__file__).resolve().parent.parent.parent
SETUP = ["-c", "import django; django.setup()"]
# Variables the settings read; each case starts from none of them.
OWN_PREFIXES = ("DJANGO_", "BACKCARE_", "CELERY_")
OWN_NAMES = {"DATABASE_URL", "REDIS_URL"}


def production_env(**overrides: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "DJANGO_SETTINGS_MODULE": "backcare.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "backcare.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/backcare",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "BACKCARE_VAPID_PRIVATE_KEY": private_key_to_raw_b64(generate_private_key()),
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES) and k not in OWN_NAMES}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_improperly_configured(result: subprocess.CompletedProcess, mentions: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    assert mentions in result.stderr, result.stderr


def test_production_without_secret_key_fails():
    result = run(SETUP, production_env(DJANGO_SECRET_KEY=None))
    assert_improperly_configured(result, "DJANGO_SECRET_KEY")


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param("short-but-not-empty-secret", id="short"),
        pytest.param("a" * 64, id="long-but-one-character"),
        pytest.param("django-insecure-" + secrets.token_urlsafe(48), id="django-insecure-prefix"),
    ],
)
def test_production_with_a_weak_secret_key_fails(secret):
    result = run(SETUP, production_env(DJANGO_SECRET_KEY=secret))
    assert_improperly_configured(result, "DJANGO_SECRET_KEY")
    if secret:
        assert secret not in result.stderr  # the rejected value is not echoed into logs


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        pytest.param({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS", id="no-allowed-hosts"),
        pytest.param({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS", id="empty-allowed-hosts"),
        pytest.param({"DATABASE_URL": None}, "DATABASE_URL", id="no-database-url"),
        pytest.param({"DATABASE_URL": "sqlite:////tmp/backcare.sqlite3"}, "PostgreSQL", id="sqlite"),
        pytest.param({"REDIS_URL": None}, "REDIS_URL", id="no-redis-url"),
        pytest.param({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG", id="debug-not-a-boolean"),
    ],
)
def test_production_without_required_values_fails(overrides, mentions):
    result = run(SETUP, production_env(**overrides))
    assert_improperly_configured(result, mentions)


@pytest.mark.parametrize("module", ["backcare.settings.local", "backcare.settings.production"])
def test_debug_that_is_not_a_boolean_fails(module):
    result = run(SETUP, production_env(DJANGO_SETTINGS_MODULE=module, DJANGO_DEBUG="maybe"))
    assert_improperly_configured(result, "DJANGO_DEBUG='maybe' is not a boolean")


def test_local_settings_start_with_nothing_set():
    result = run(SETUP, {"DJANGO_SETTINGS_MODULE": "backcare.settings.local"})
    assert result.returncode == 0, result.stderr


def test_production_with_a_full_env_passes_check_deploy_without_warnings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in result.stdout
    assert "?: (security." not in output
