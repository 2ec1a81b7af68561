"""The current episode (the open one, else the latest): the Python read and its SQL twin agree on any patients."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backcare.accounts.models import User
from recovery.episodes.models import Episode
from recovery.episodes.selectors import episode_current, episode_current_id
from tests.factories import EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# One episode: its onset (in hours after BASE; few values, so that onsets tie) and whether it is resolved.
episodes = st.tuples(st.integers(min_value=0, max_value=4), st.booleans())
# A patient: none, one or several episodes, at most one of them open (the database allows no more).
patients = st.lists(episodes, max_size=4).filter(lambda eps: sum(not resolved for _, resolved in eps) <= 1)


def _patient_with(history: list[tuple[int, bool]]) -> User:
    patient = UserFactory()
    for hours, resolved in history:
        onset = BASE + timedelta(hours=hours)
        EpisodeFactory(
            patient=patient,
            onset=onset,
            status=Episode.Status.RESOLVED if resolved else Episode.Status.OPEN,
            resolved_at=onset + timedelta(days=1) if resolved else None,
        )
    return patient


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(patients, min_size=1, max_size=4))
def test_the_python_read_and_its_sql_twin_agree(histories):
    with transaction.atomic():  # each example in its own savepoint, rolled back
        users = [_patient_with(history) for history in histories]
        in_python = {user.pk: getattr(episode_current(patient=user), "pk", None) for user in users}
        in_sql = dict(
            User.objects.filter(pk__in=in_python).annotate(current=episode_current_id()).values_list("pk", "current")
        )
        assert in_sql == in_python
        for user, history in zip(users, histories, strict=True):
            _assert_is_current(in_python[user.pk], user=user, history=history)
        transaction.set_rollback(True)


def _assert_is_current(episode_id, *, user: User, history: list[tuple[int, bool]]) -> None:
    """What "current" means, said without the shared ordering: the open one, else one of the latest onset."""
    if not history:
        assert episode_id is None
        return
    episode = Episode.objects.get(pk=episode_id, patient=user)
    if any(not resolved for _, resolved in history):
        assert episode.status == Episode.Status.OPEN
    else:
        assert episode.onset == BASE + timedelta(hours=max(hours for hours, _ in history))


def test_the_sql_twin_follows_another_patient_column(patient, other_patient):
    """`patient_ref` names the outer query's column holding the patient's id (here a foreign key)."""
    resolved = EpisodeFactory(
        patient=patient, onset=BASE, status=Episode.Status.RESOLVED, resolved_at=BASE + timedelta(days=2)
    )
    later = EpisodeFactory(patient=patient, onset=BASE + timedelta(days=3))
    other = EpisodeFactory(patient=other_patient, onset=BASE)
    current = dict(
        Episode.objects.annotate(current=episode_current_id(patient_ref="patient_id")).values_list("pk", "current")
    )
    assert current == {resolved.pk: later.pk, later.pk: later.pk, other.pk: other.pk}
