"""The app, and the hooks through which the platform reaches it: backcare never imports recovery, so recovery
connects itself to accounts' profile_changed signal and registers its /healthz check here."""

from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings
from django.utils import timezone

from backcare.accounts.signals import profile_changed
from backcare.core.health import health_check_register


class RecoveryConfig(AppConfig):
    name = "recovery"
    verbose_name = "Recovery"

    def ready(self):
        profile_changed.connect(reminders_replan_for_profile, dispatch_uid="recovery.reminders_replan_for_profile")
        health_check_register(name="reminders", check=reminders_lag_check)


# The models are not loaded when this module is imported: the receivers import the domain when called.


def reminders_replan_for_profile(sender, *, user, **kwargs) -> None:
    """Zone, sleep window and preferences decide when reminders fall: re-plan in the profile's transaction."""
    from recovery.reminders.planning import reminders_reconcile_patient

    reminders_reconcile_patient(patient=user)


def reminders_lag_check() -> dict:
    """Lag of the outbox: how long the oldest due reminder has waited, and when the dispatcher last ran."""
    from backcare.core.selectors import heartbeat_status
    from recovery.reminders.selectors import reminders_expired_count, reminders_oldest_overdue

    now = timezone.now()
    oldest = reminders_oldest_overdue(now=now)
    lag = (now - oldest).total_seconds() if oldest else 0.0
    dispatcher = heartbeat_status(name="dispatcher")
    return {
        "ok": lag <= settings.BACKCARE_REMINDER_LAG_MAX.total_seconds(),
        "oldest_overdue_seconds": round(lag, 1),
        "dispatcher_last": dispatcher.get("last"),
        "dispatcher_age_seconds": dispatcher.get("age_seconds"),
        # Claimed too late to be worth sending (after an outage, say): counted, never sent.
        "expired_last_24h": reminders_expired_count(since=now - timedelta(hours=24)),
    }
