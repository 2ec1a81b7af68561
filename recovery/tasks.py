from celery import shared_task
from django.utils import timezone

from .treatment_services import applications_close_all_overdue


@shared_task(name="recovery.tasks.applications_close_overdue", ignore_result=True)
def applications_close_overdue() -> int:
    # Keeps the timeline true even when nobody opens the app: an application left on ends at its cap.
    return applications_close_all_overdue(now=timezone.now())
