"""The operator's admin: every page opens, nothing can be written, and a page's queries do not grow with its rows."""

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recovery.care.models import CareLink
from recovery.episodes.models import Episode
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.triage.models import TriageSummary
from tests.factories import CareLinkFactory, CheckInFactory, EpisodeFactory, UserFactory

MODELS = [Reminder, Delivery, TriageSummary, CareLink, Episode]


def patient_with_history(index: int) -> Reminder:
    """A patient with an episode, two check-ins, a sent reminder (two devices, three attempts), a summary, a link."""
    now = timezone.now()
    episode = EpisodeFactory(patient=UserFactory(), onset=now - timedelta(days=1))
    patient = episode.patient
    CheckInFactory.create_batch(2, episode=episode)
    reminder = Reminder.objects.create(
        patient=patient,
        episode=episode,
        kind="ice_start",
        slot=f"ice_start:onset:{index}",
        due_at=now - timedelta(minutes=10),
        status=Reminder.Status.SENT,
        sent_at=now - timedelta(minutes=9),
    )
    for device_id in (1, 2):
        delivery = Delivery.objects.create(
            reminder=reminder, device_type="webpush", device_id=device_id, next_attempt_at=now, attempts=1
        )
        DeliveryAttempt.objects.create(delivery=delivery, at=now, status_code=201, outcome="sent", duration_ms=40)
    DeliveryAttempt.objects.create(delivery=delivery, at=now, status_code=500, outcome="retry", error="boom")
    TriageSummary.objects.create(patient=patient, computed_revision=1, computed_at=now, episode_id=episode.pk)
    CareLinkFactory(patient=patient)
    return reminder


def changelist(model) -> str:
    return reverse(f"admin:recovery_{model._meta.model_name}_changelist")


def change_page(obj) -> str:
    return reverse(f"admin:recovery_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def history(db):
    return patient_with_history(0)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_changelist_and_change_page_opens(admin_client, history, model):
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    response = admin_client.get(change_page(model.objects.first()))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content  # view-only: no save button


def test_the_reminder_page_shows_its_deliveries_and_links_to_their_attempts(admin_client, history):
    delivery = history.deliveries.order_by("device_id").last()
    page = admin_client.get(change_page(history)).content.decode()
    assert "webpush" in page
    assert change_page(delivery) in page  # the link to the delivery's own page, where the attempts are

    page = admin_client.get(change_page(delivery)).content.decode()
    assert "boom" in page and "retry" in page and "201" in page


def test_the_episode_list_counts_check_ins(admin_client, history):
    response = admin_client.get(changelist(Episode))
    assert response.context["cl"].result_list[0].checkin_total == 2


def test_search_and_filters(admin_client, history):
    email = history.patient.email
    assert admin_client.get(changelist(Reminder), {"q": email}).context["cl"].result_count == 1
    assert admin_client.get(changelist(Reminder), {"q": "nobody@nowhere.test"}).context["cl"].result_count == 0
    assert admin_client.get(changelist(Reminder), {"status__exact": "sent", "kind": "ice_start"}).status_code == 200
    assert admin_client.get(changelist(CareLink), {"q": email}).context["cl"].result_count == 1


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_nothing_can_be_added_changed_or_deleted(admin_client, admin_user, history, model):
    obj = model.objects.first()
    request = admin_client.get(changelist(model)).wsgi_request
    model_admin = site._registry[model]
    assert model_admin.has_view_permission(request, obj)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    for inline in model_admin.get_inline_instances(request, obj):
        assert not inline.has_add_permission(request, obj)
        assert not inline.has_change_permission(request, obj)
        assert not inline.has_delete_permission(request, obj)

    name = model._meta.model_name
    assert admin_client.get(reverse(f"admin:recovery_{name}_add")).status_code == 403
    assert admin_client.post(change_page(obj), {}).status_code == 403
    assert (
        admin_client.post(reverse(f"admin:recovery_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    )
    assert model.objects.filter(pk=obj.pk).exists()


def changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(changelist(model)).status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_full_page_costs_no_more_queries_than_one_row(admin_client, django_assert_max_num_queries, model):
    patient_with_history(0)
    one_row = changelist_queries(admin_client, model)
    for index in range(1, 100):
        patient_with_history(index)
    assert model.objects.count() >= 100
    with django_assert_max_num_queries(one_row):
        response = admin_client.get(changelist(model))
    assert len(response.context["cl"].result_list) == 100


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_read_of_patient_rows_is_in_the_access_log(admin_client, admin_user, history, model):
    from backcare.audit.models import AccessLog

    other = patient_with_history(1)
    action = f"admin.{model._meta.model_name}"
    assert admin_client.get(changelist(model)).status_code == 200
    listed = set(AccessLog.objects.filter(actor=admin_user, action=action).values_list("patient_id", flat=True))
    assert listed == {history.patient_id, other.patient_id}
    obj = model.objects.first()
    before = AccessLog.objects.count()
    assert admin_client.get(change_page(obj)).status_code == 200
    row = AccessLog.objects.order_by("-id").first()
    assert AccessLog.objects.count() == before + 1
    assert (row.actor_id, row.action, row.path) == (admin_user.pk, action, change_page(obj))
    assert row.patient_id in listed
