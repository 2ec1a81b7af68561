import json

from django.core.management.base import BaseCommand

from recovery.reminders.selectors import outbox_status


class Command(BaseCommand):
    help = (
        "The reminder outbox at a glance: queue lag (now - oldest due scheduled reminder), reminders and "
        "deliveries by status, expired claims, and the age of the dispatcher's heartbeat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        status = outbox_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2))
            return
        age = status["dispatcher_heartbeat_age_seconds"]
        lines = [
            f"queue lag: {status['queue_lag_seconds']:.1f} s (oldest due reminder not yet claimed)",
            f"delivery lag: {status['delivery_lag_seconds']:.1f} s (oldest due delivery not yet claimed)",
            f"expired claims: {status['expired_claims']}",
            "dispatcher heartbeat: " + ("never" if age is None else f"{age:.1f} s ago"),
            "reminders:  " + "  ".join(f"{k}={v}" for k, v in status["reminders"].items()),
            "deliveries: " + "  ".join(f"{k}={v}" for k, v in status["deliveries"].items()),
        ]
        self.stdout.write("\n".join(lines))
