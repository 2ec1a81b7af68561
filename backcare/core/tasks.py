from celery import shared_task

from .services import heartbeat_record


@shared_task(name="backcare.core.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    # Runs on a worker, queued by beat: a fresh row proves beat, broker and worker all work.
    heartbeat_record(name="beat")
