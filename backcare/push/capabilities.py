"""Which kinds of device this server can deliver to: WebPush with a VAPID key, FCM and APNs with their
credentials. A kind that is off is refused at registration (services.device_register), shown to clients
(GET /api/push/capabilities/), and its devices do not count as reachable (the triage queue); and the
/healthz check of push: the kinds that are on, and an alert while a push service refuses our credentials."""

from __future__ import annotations

from django.conf import settings

from backcare.push.apns import apns_config, apns_configured
from backcare.push.devices import DEVICE_KINDS
from backcare.push.fcm import fcm_config, fcm_configured

LABELS = {"webpush": "Web Push (VAPID)", "fcm": "FCM (Android app)", "apns": "APNs (iOS app)"}


def push_kinds_enabled() -> dict[str, bool]:
    """Every device kind -> whether this server is configured to deliver to it."""
    enabled = {
        "webpush": bool(getattr(settings, "BACKCARE_VAPID_PRIVATE_KEY", "")),
        "fcm": fcm_configured(),
        "apns": apns_configured(),
    }
    return {kind: enabled.get(kind, False) for kind in DEVICE_KINDS}


def push_health_check() -> dict:
    """For /healthz: not ok while a push service refuses our credentials (or they cannot be read)."""
    from backcare.push.models import PushAlert

    enabled = push_kinds_enabled()
    alerts = []
    for kind, config_of in (("fcm", fcm_config), ("apns", apns_config)):
        if not enabled[kind]:
            continue
        try:
            fingerprint = config_of().fingerprint
        except Exception as exc:  # noqa: BLE001 - an unreadable configuration is the alert
            alerts.append({"kind": kind, "error": str(exc)[:300], "since": None})
            continue
        alert = PushAlert.objects.filter(kind=kind, fingerprint=fingerprint).first()
        if alert is not None:
            alerts.append({"kind": kind, "error": alert.error[:300], "since": alert.at.isoformat()})
    return {"ok": not alerts, "enabled": [kind for kind, on in enabled.items() if on], "alerts": alerts}
