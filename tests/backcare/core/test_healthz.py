"""/healthz against the real PostgreSQL and Redis of backcare.settings.test."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone

from backcare.celery import app as celery_app
from backcare.core import health
from backcare.core.models import Heartbeat
from backcare.core.services import heartbeat_record

pytestmark = pytest.mark.django_db

CLOSED_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(autouse=True)
def no_heartbeat():
    # Rolled back with the test; guards against a row left committed by an interrupted worker test.
    Heartbeat.objects.all().delete()


def get_healthz(client):
    response = client.get("/healthz")
    return response, response.json()


def test_no_heartbeat_is_503_with_beat_not_ok(client):
    assert not Heartbeat.objects.exists()

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["beat"] == {"ok": False, "last": None, "error": "no heartbeat yet"}


def test_fresh_heartbeat_is_200(client):
    beat = heartbeat_record(name="beat")

    response, body = get_healthz(client)

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["beat"]["ok"] is True
    assert body["checks"]["beat"]["last"] == beat.at.isoformat()
    assert 0 <= body["checks"]["beat"]["age_seconds"] < 5


def test_heartbeat_of_another_name_does_not_count(client):
    heartbeat_record(name="something-else")

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["checks"]["beat"]["last"] is None


def test_heartbeat_just_within_max_age_is_200(client):
    max_age = settings.BACKCARE_HEARTBEAT_MAX_AGE
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        heartbeat_record(name="beat")
        traveller.shift(max_age - timedelta(seconds=1))

        response, body = get_healthz(client)

    assert response.status_code == 200, body
    assert body["checks"]["beat"]["age_seconds"] == pytest.approx(max_age.total_seconds() - 1)


def test_heartbeat_older_than_max_age_is_503(client):
    max_age = settings.BACKCARE_HEARTBEAT_MAX_AGE
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        beat = heartbeat_record(name="beat")
        traveller.shift(max_age + timedelta(seconds=1))

        response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["beat"] == {
        "ok": False,
        "last": beat.at.isoformat(),
        "age_seconds": max_age.total_seconds() + 1,
    }


def test_broker_down_is_503_even_with_a_fresh_heartbeat(client, monkeypatch):
    heartbeat_record(name="beat")
    monkeypatch.setattr(celery_app.conf, "broker_url", CLOSED_BROKER)
    assert celery_app.conf.broker_write_url == CLOSED_BROKER

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]  # the exception's class name, e.g. OperationalError
    assert "transport" not in body["checks"]["broker"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["beat"]["ok"] is True


def test_database_down_is_503_and_beat_is_not_read(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("backcare.core.views.connection", BrokenConnection())

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["beat"] == {"ok": False, "error": "database down"}
    assert body["checks"]["reminders"] == {"ok": False, "error": "database down"}


def test_json_shape(client):
    heartbeat_record(name="beat")

    response, body = get_healthz(client)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "broker", "beat", "push", "reminders"}
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True, "transport": "redis"}
    assert set(body["checks"]["beat"]) == {"ok", "last", "age_seconds"}
    assert isinstance(body["checks"]["beat"]["age_seconds"], int | float)
    for check in body["checks"].values():
        assert isinstance(check["ok"], bool)


def test_trailing_slash_and_anonymous_access(client):
    heartbeat_record(name="beat")

    assert client.get("/healthz/").status_code == 200


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_check_heartbeat_command_fails_without_a_fresh_heartbeat():
    with pytest.raises(CommandError, match="no heartbeat yet"):
        call_command("check_heartbeat")

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        heartbeat_record(name="beat")
        traveller.shift(settings.BACKCARE_HEARTBEAT_MAX_AGE + timedelta(seconds=1))
        with pytest.raises(CommandError, match="stale"):
            call_command("check_heartbeat")


def test_check_heartbeat_command_passes_with_a_fresh_heartbeat():
    heartbeat_record(name="beat")
    out = io.StringIO()

    call_command("check_heartbeat", stdout=out)

    assert "ok" in out.getvalue()


def test_reminder_lag_turns_healthz_503(client, settings):
    from recovery.models import Episode, Reminder
    from tests.factories import UserFactory

    heartbeat_record(name="beat")
    heartbeat_record(name="dispatcher")
    user = UserFactory()
    episode = Episode.objects.create(patient=user, onset=timezone.now() - timedelta(hours=1))
    Reminder.objects.create(
        patient=user, episode=episode, kind="checkin", slot="late", due_at=timezone.now() - timedelta(seconds=30)
    )
    response, body = get_healthz(client)
    assert response.status_code == 200, body
    assert 29 <= body["checks"]["reminders"]["oldest_overdue_seconds"] < 40
    assert body["checks"]["reminders"]["dispatcher_age_seconds"] < 5

    Reminder.objects.filter(slot="late").update(due_at=timezone.now() - timedelta(minutes=5))
    response, body = get_healthz(client)
    assert response.status_code == 503
    assert body["checks"]["reminders"]["ok"] is False


# --- the registry: apps add their checks (push: credentials; core: beat; recovery: reminders) -------


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(health, "_checks", dict(health._checks))


def test_the_apps_register_their_checks_in_the_order_of_installed_apps():
    assert list(health._checks) == ["push", "beat", "reminders"]


def test_a_registered_check_is_run_and_decides_the_status(client, registry):
    heartbeat_record(name="beat")
    heartbeat_record(name="dispatcher")
    health.health_check_register(name="spare", check=lambda: {"ok": False, "why": "test"})

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["checks"]["spare"] == {"ok": False, "why": "test"}
    assert list(body["checks"]) == ["database", "broker", "push", "beat", "reminders", "spare"]


def test_a_check_that_raises_reports_the_exception_class(client, registry):
    def broken():
        raise LookupError("gone")

    health.health_check_register(name="reminders", check=broken)

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["checks"]["reminders"] == {"ok": False, "error": "LookupError"}
