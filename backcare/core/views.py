from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backcare.celery import app as celery_app
from recovery.reminders.selectors import reminders_oldest_overdue

from .selectors import heartbeat_status


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return {"ok": False, "error": exc.__class__.__name__}


def _check_broker() -> dict:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": conn.transport_cls}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}


def _check_beat() -> dict:
    try:
        return heartbeat_status(name="beat")
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}


def _check_reminders() -> dict:
    """Lag of the outbox: how long the oldest due reminder has waited, and when the dispatcher last ran."""
    try:
        now = timezone.now()
        oldest = reminders_oldest_overdue(now=now)
        lag = (now - oldest).total_seconds() if oldest else 0.0
        dispatcher = heartbeat_status(name="dispatcher")
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {
        "ok": lag <= settings.BACKCARE_REMINDER_LAG_MAX.total_seconds(),
        "oldest_overdue_seconds": round(lag, 1),
        "dispatcher_last": dispatcher.get("last"),
        "dispatcher_age_seconds": dispatcher.get("age_seconds"),
    }


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    down = {"ok": False, "error": "database down"}
    checks["beat"] = _check_beat() if checks["database"]["ok"] else down
    checks["reminders"] = _check_reminders() if checks["database"]["ok"] else down
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)
