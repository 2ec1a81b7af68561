from django.core.management.base import BaseCommand
from django.db import transaction

from backcare.accounts.models import Profile, Role, User

DEMO_PASSWORD = "backcare-demo-2026"
DEMO_USERS = [
    ("patient@demo.backcare.local", "Pat Demo", Role.PATIENT, "Europe/Berlin"),
    ("physio@demo.backcare.local", "Phyllis Physio", Role.PHYSIOTHERAPIST, "Europe/Berlin"),
]


class Command(BaseCommand):
    help = "Create the demo patient and physiotherapist (idempotent) and print their credentials."

    @transaction.atomic
    def handle(self, *args, **options):
        for email, name, role, zone in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, display_name=name, role=role)
            Profile.objects.get_or_create(user=user, defaults={"timezone": zone})
        self.stdout.write(f"Demo accounts (password for both: {DEMO_PASSWORD}):")
        for email, _, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<16} {email}")
