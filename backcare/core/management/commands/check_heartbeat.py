from django.core.management.base import BaseCommand, CommandError

from backcare.core.selectors import heartbeat_status


class Command(BaseCommand):
    help = (
        "Exit 0 if the beat heartbeat is younger than BACKCARE_HEARTBEAT_MAX_AGE, else 1. "
        "The beat container's health check: a fresh row proves beat queued it and a worker ran it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default="beat", help="Heartbeat name (default: beat).")

    def handle(self, *args, **options):
        status = heartbeat_status(name=options["name"])
        if not status["ok"]:
            detail = status.get("error") or f"last at {status['last']}, {status['age_seconds']} s ago"
            raise CommandError(f"heartbeat {options['name']!r} is stale: {detail}")
        self.stdout.write(f"heartbeat {options['name']!r} ok: {status['age_seconds']} s old")
