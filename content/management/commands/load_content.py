from django.core.management.base import BaseCommand

from content.services import redflag_rules_load


class Command(BaseCommand):
    help = "Load the education content and red-flag rules from content/data (idempotent)."

    def handle(self, *args, **options):
        ruleset, created = redflag_rules_load()
        state = "loaded" if created else "unchanged"
        self.stdout.write(f"red-flag rules v{ruleset.version}: {state} ({ruleset.rules.count()} rules)")
