"""Factories and bulk builders of test data, shared by every test package."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from backcare.accounts.models import Profile, Role, User
from backcare.audit.services import AccessContext
from recovery.care.models import CareLink, CareNote
from recovery.episodes.models import CheckIn, Episode

PASSWORD = "correct-horse-battery-staple"


class AccessContextFactory(factory.Factory):
    """The request a physiotherapist's write in a test comes through (care services record it)."""

    class Meta:
        model = AccessContext

    path = "/test/"
    request_id = factory.LazyFunction(lambda: uuid.uuid4().hex)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    display_name = factory.Faker("first_name")
    role = Role.PATIENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def with_profile(obj, create, extracted, **kwargs):
        obj.save()
        if create:
            Profile.objects.get_or_create(user=obj, defaults={"timezone": extracted or "UTC"})


class PhysioFactory(UserFactory):
    role = Role.PHYSIOTHERAPIST


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    patient = factory.SubFactory(UserFactory)
    onset = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    trigger = "lifting"


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    episode = factory.SubFactory(EpisodeFactory)
    patient = factory.SelfAttribute("episode.patient")
    client_uuid = factory.LazyFunction(uuid.uuid4)
    occurred_at = factory.LazyFunction(timezone.now)
    pain = 5
    payload_hash = "factory"


class CareLinkFactory(factory.django.DjangoModelFactory):
    """An active link, as a redeemed invitation leaves it (without the invitation)."""

    class Meta:
        model = CareLink

    patient = factory.SubFactory(UserFactory)
    physiotherapist = factory.SubFactory(PhysioFactory)
    consented_at = factory.LazyFunction(timezone.now)


class CareNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareNote

    patient = factory.SubFactory(UserFactory)
    author = factory.SubFactory(PhysioFactory)
    text = factory.Faker("sentence")
    created_at = factory.LazyFunction(timezone.now)


def history_create(*, episode, start, days: int, per_day: int = 3, author=None) -> None:
    """Bulk-create `days` days of every kind of timeline event for the episode's patient, from `start`."""
    import uuid
    from datetime import timedelta
    from decimal import Decimal

    from recovery.models import (
        Activity,
        Application,
        CheckIn,
        MedicationIntake,
        Prescription,
        RedFlagEvent,
        Reminder,
        RestPeriod,
    )

    patient = episode.patient
    checkins, apps, rests, meds, walks, reminders, notes = [], [], [], [], [], [], []
    for day in range(days):
        base = start + timedelta(days=day)
        for i in range(per_day):
            at = base + timedelta(hours=1 + i * 5)
            checkins.append(
                CheckIn(
                    patient=patient,
                    episode=episode,
                    client_uuid=uuid.uuid4(),
                    occurred_at=at,
                    pain=(day + i) % 11,
                    payload_hash="h",
                )
            )
            apps.append(
                Application(
                    patient=patient,
                    episode=episode,
                    client_uuid=uuid.uuid4(),
                    kind="ice",
                    started_at=at + timedelta(minutes=10),
                    stopped_at=at + timedelta(minutes=30),
                )
            )
            reminders.append(
                Reminder(
                    patient=patient,
                    episode=episode,
                    kind="ice_start",
                    slot=f"ice_start:{day}:{i}",
                    due_at=at + timedelta(minutes=5),
                    status=Reminder.Status.SENT,
                    sent_at=at + timedelta(minutes=5, seconds=1),
                    acknowledged_at=at + timedelta(minutes=9),
                    ack_action=Reminder.Action.DONE,
                )
            )
        rests.append(
            RestPeriod(
                patient=patient,
                episode=episode,
                client_uuid=uuid.uuid4(),
                started_at=base + timedelta(hours=13),
                stopped_at=base + timedelta(hours=14),
            )
        )
        meds.append(
            MedicationIntake(
                patient=patient,
                episode=episode,
                client_uuid=uuid.uuid4(),
                taken_at=base + timedelta(hours=8),
                med_class="nsaid",
                name="ibuprofen",
                dose_mg=Decimal("400"),
                payload_hash="h",
            )
        )
        walks.append(
            Activity(
                patient=patient,
                episode=episode,
                client_uuid=uuid.uuid4(),
                started_at=base + timedelta(hours=15),
                minutes=20,
                pain_before=4,
                pain_after=3,
                payload_hash="h",
            )
        )
        notes.append(CareNote(patient=patient, author=author, episode=episode, text=f"note {day}", created_at=base))
    CheckIn.objects.bulk_create(checkins)
    Application.objects.bulk_create(apps)
    RestPeriod.objects.bulk_create(rests)
    MedicationIntake.objects.bulk_create(meds)
    Activity.objects.bulk_create(walks)
    Reminder.objects.bulk_create(reminders)
    CareNote.objects.bulk_create(notes)
    first = CheckIn.objects.filter(episode=episode).order_by("occurred_at").first()
    RedFlagEvent.objects.create(
        patient=patient,
        episode=episode,
        checkin=first,
        code="saddle_numbness",
        level="emergency",
        question="Numbness in the saddle area?",
        guidance="Call emergency services.",
        ruleset_version=1,
        occurred_at=first.occurred_at,
    )
    Prescription.objects.create(episode=episode, overrides={"ice_on_min": 15}, note="gentler", created_by=author)
    _questionnaire_response_create(episode=episode, at=start + timedelta(hours=2))


def _questionnaire_response_create(*, episode, at) -> None:
    """One scored PEG (issue 17), straight into the table like the rest of the history."""
    import uuid
    from decimal import Decimal

    from recovery.outcomes.models import QuestionnaireResponse, QuestionnaireVersion

    version = QuestionnaireVersion.objects.filter(code="peg").order_by("-version").first()
    if version is None:
        return
    QuestionnaireResponse.objects.create(
        patient=episode.patient,
        episode=episode,
        questionnaire=version,
        client_uuid=uuid.uuid4(),
        occurred_at=at,
        answers={"pain": 6, "enjoyment": 5, "activity": 4},
        score=Decimal("5.00"),
        scoring_rule="mean@1",
        answered=3,
        payload_hash="h",
    )
