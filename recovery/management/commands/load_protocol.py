from django.core.management.base import BaseCommand

from recovery.treatment.services import protocol_version_load


class Command(BaseCommand):
    help = "Load the protocol definition from recovery/data/ (idempotent; a migration loads it too)."

    def handle(self, *args, **options):
        version, created = protocol_version_load()
        self.stdout.write(f"protocol v{version.version}: {'loaded' if created else 'unchanged'}")
