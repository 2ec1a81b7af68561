from celery import shared_task

from backcare.push.services import device_test_send as _device_test_send


@shared_task(name="backcare.push.tasks.device_test_send", ignore_result=True)
def device_test_send(user_id: int, device_keys: list[str]) -> int:
    """The test push the devices API queued: ids in, the service sends and records."""
    return len(_device_test_send(user_id=user_id, device_keys=device_keys))
