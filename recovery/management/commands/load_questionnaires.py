from django.core.management.base import BaseCommand

from recovery.outcomes.services import questionnaire_versions_load


class Command(BaseCommand):
    help = "Load the questionnaire definitions from recovery/data/questionnaires/ (idempotent)."

    def handle(self, *args, **options):
        for version, created in questionnaire_versions_load():
            self.stdout.write(f"{version.code} v{version.version}: {'loaded' if created else 'unchanged'}")
