from django.core.management.base import BaseCommand

from content.services import redflag_rules_load
from recovery.treatment_services import protocol_version_load


class Command(BaseCommand):
    help = "Load the red-flag rules and the protocol definition from their data files (idempotent)."

    def handle(self, *args, **options):
        ruleset, created = redflag_rules_load()
        state = "loaded" if created else "unchanged"
        self.stdout.write(f"red-flag rules v{ruleset.version}: {state} ({ruleset.rules.count()} rules)")
        version, created = protocol_version_load()
        self.stdout.write(f"protocol v{version.version}: {'loaded' if created else 'unchanged'}")
