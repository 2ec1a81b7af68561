import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from backcare.accounts.models import Profile, Role, User
from recovery.care.models import CareLink
from recovery.care.services import care_invite_create, care_invite_redeem
from recovery.episodes.models import Episode
from recovery.episodes.services import checkin_put, episode_open
from recovery.treatment.services import application_put, medication_put

# Stable client ids: the demo history is written through the same replay-safe services as the app.
DEMO_NS = uuid.UUID("6d1c3f8e-2b5a-4c1e-9f0d-5a7b8c9d0e1f")

DEMO_PASSWORD = "backcare-demo-2026"  # nosec B105  # published on purpose; refused outside local/test settings
DEMO_USERS = [
    ("patient@demo.backcare.local", "Pat Demo", Role.PATIENT, "Europe/Berlin"),
    ("physio@demo.backcare.local", "Phyllis Physio", Role.PHYSIOTHERAPIST, "Europe/Berlin"),
]


class Command(BaseCommand):
    help = "Create the demo patient and physiotherapist (idempotent) and print their credentials."

    def handle(self, *args, **options):
        # The password above is published (README, this file): demo accounts must never exist in production.
        if not settings.BACKCARE_SEED_DEMO_ALLOWED:
            raise CommandError(
                "seed_demo creates accounts with a published password; refused with these settings "
                f"({settings.SETTINGS_MODULE}). It runs only with backcare.settings.local or test."
            )
        with transaction.atomic():
            self._seed()

    def _seed(self):
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
        history = not Episode.objects.filter(patient=patient).exists()
        if history:
            demo_history(patient)
        self.stdout.write(f"Demo accounts (password for both: {DEMO_PASSWORD}):")
        for email, _, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<16} {email}")
        self.stdout.write("The demo patient is linked to the demo physiotherapist.")
        if history:
            self.stdout.write(
                "The demo patient has a back spasm that began 30 hours ago (check-ins, ice, pain relief)."
            )


def demo_history(patient: User) -> None:
    """A spasm that began 30 hours ago: three check-ins with pain easing, two ice rounds, one ibuprofen."""
    now = timezone.now()
    onset = now - timedelta(hours=30)

    def cid(name: str) -> uuid.UUID:
        return uuid.uuid5(DEMO_NS, name)

    episode_open(patient=patient, onset=onset, trigger="lifting", client_uuid=cid("episode"))
    for name, hours, minutes in (("ice-1", 29, 20), ("ice-2", 27, 20)):
        started = now - timedelta(hours=hours)
        application_put(
            patient=patient,
            client_uuid=cid(name),
            kind="ice",
            started_at=started,
            stopped_at=started + timedelta(minutes=minutes),
        )
    medication_put(
        patient=patient,
        client_uuid=cid("ibuprofen-1"),
        med_class="nsaid",
        dose_mg=Decimal("400"),
        taken_at=now - timedelta(hours=28),
        name="ibuprofen",
    )
    no_flags = {"bowel_bladder_loss": False, "saddle_numbness": False, "progressive_leg_weakness": False}
    for name, hours, pain in (("checkin-1", 29, 7), ("checkin-2", 20, 6), ("checkin-3", 3, 5)):
        data = {"occurred_at": now - timedelta(hours=hours), "pain": pain, "note": ""}
        if name == "checkin-1":
            data["red_flags"] = no_flags
        checkin_put(patient=patient, client_uuid=cid(name), data=data)
