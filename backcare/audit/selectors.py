from django.db.models import QuerySet

from backcare.accounts.models import User

from .models import AccessLog


def access_log_for_patient(*, patient: User) -> QuerySet[AccessLog]:
    """Who read the patient's data, and when: what the patient is shown about their own record."""
    # No join on the actor: the row outlives a deleted account, and actor_label names them as they were.
    return AccessLog.objects.filter(patient=patient)
