from django.core.management.base import BaseCommand
from django.db import transaction

from backcare.accounts.models import Profile, Role, User
from recovery.care_services import care_invite_create, care_invite_redeem
from recovery.models import CareLink

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
        # The demo patient consents to the demo physiotherapist once, the way a real patient does; a link
        # they revoked (or the physiotherapist ended) is not made again behind their back.
        patient = User.objects.get(email=DEMO_USERS[0][0])
        physio = User.objects.get(email=DEMO_USERS[1][0])
        if not CareLink.objects.filter(patient=patient, physiotherapist=physio).exists():
            care_invite_redeem(patient=patient, code=care_invite_create(physiotherapist=physio).code)
        self.stdout.write(f"Demo accounts (password for both: {DEMO_PASSWORD}):")
        for email, _, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<16} {email}")
        self.stdout.write("The demo patient is linked to the demo physiotherapist.")
