from django.core.management.base import BaseCommand

from content.services import library_load, redflag_rules_load


class Command(BaseCommand):
    help = "Load the library and the red-flag rules from their files (idempotent; the protocol: load_protocol)."

    def handle(self, *args, **options):
        report = library_load()
        self.stdout.write(
            f"library: {len(report.created)} new, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.retired)} unpublished"
        )
        for label in report.created + report.updated:
            self.stdout.write(f"  loaded {label}")
        for label in report.retired:
            self.stdout.write(f"  unpublished {label} (its file is gone)")
        ruleset, created = redflag_rules_load()
        state = "loaded" if created else "unchanged"
        self.stdout.write(f"red-flag rules v{ruleset.version}: {state} ({ruleset.rules.count()} rules)")
