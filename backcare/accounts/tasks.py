from celery import shared_task

from .services import auth_tokens_purge_expired


@shared_task(name="backcare.accounts.tasks.expired_tokens_purge", ignore_result=True)
def expired_tokens_purge() -> int:
    return auth_tokens_purge_expired()
