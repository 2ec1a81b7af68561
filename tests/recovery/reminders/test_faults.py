"""Fault tests with real processes: a Celery worker, the dispatcher worker and beat, against a Redis and a
PostgreSQL that the test stops and starts (private servers on free ports: tests/support/servers.py).

  Redis down 30 s:  nothing can be queued; everything that fell due meanwhile arrives once it is back,
                    and the workers consume again without being restarted.
  PostgreSQL restart: the dispatcher's connections die under it; it recovers by itself.

Every reminder here is an ice_remove (a safety reminder with no successor to plan), hand-made with a
chosen due instant; each must reach the receiver exactly once per slot.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from push_notifications.models import WebPushDevice

from backcare.accounts.models import Profile, User
from backcare.core.models import Heartbeat
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from tests.recovery.reminders.conftest import ROOT, worker_env
from tests.support.push_receiver import PushReceiver
from tests.support.servers import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.worker, pytest.mark.faults]


class Processes:
    """worker (sends), dispatcher (its own queue) and beat, as `make run` starts them."""

    def __init__(self, env: dict, logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "backcare"]
        commands = {
            "worker": [*celery, "worker", "-c", "2", "-P", "prefork", "-Q", "celery", "-n", "w@%h", "-l", "INFO"],
            "dispatcher": [*celery, "worker", "-P", "solo", "-Q", "dispatch", "-n", "d@%h", "-l", "INFO"],
            "beat": [*celery, "beat", "-l", "INFO", "-s", str(self.logs / "beat-schedule")],
        }
        for name, command in commands.items():
            log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
            self.procs[name] = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs.values())

    def output(self) -> str:
        return "\n".join(f"--- {name}\n{(self.logs / f'{name}.log').read_text()[-3000:]}" for name in self.procs)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def process_env(*, database_url: str, redis_url: str, receiver: PushReceiver) -> dict:
    # Short claims: a send task lost with the broker's data is taken again within seconds.
    return worker_env(
        database_url=database_url, redis_url=redis_url, receiver=receiver, BACKCARE_DISPATCH_CLAIM_TTL="10"
    )


def add_reminder(receiver: PushReceiver, name: str, due: datetime, *, using: str = "default") -> str:
    """A quiet patient (no plan of their own), an episode, one WebPush device at the receiver, one safety
    reminder due at `due`. Returns its slot."""
    user = User(email=f"{name}-{uuid.uuid4().hex[:6]}@fault.test", password="!")
    user.save(using=using)
    Profile(user=user, timezone="UTC", notify_treatment=False, notify_checkin=False).save(using=using)
    episode = Episode(patient=user, onset=timezone.now() - timedelta(hours=1), trigger="lifting")
    episode.save(using=using)
    sub = receiver.subscription(name)
    WebPushDevice(
        user=user, registration_id=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"]
    ).save(using=using)
    slot = f"ice_remove:{uuid.uuid4()}"
    Reminder(patient=user, episode=episode, kind="ice_remove", slot=slot, due_at=due, safety=True).save(using=using)
    return slot


def arrivals(receiver: PushReceiver) -> dict[str, list[float]]:
    """name -> arrival instants (epoch seconds) of the copies the receiver accepted."""
    got: dict[str, list[float]] = {}
    for message in receiver.received:
        if message.status == 201:
            got.setdefault(message.name, []).append(message.at)
    return got


def wait_arrived(receiver: PushReceiver, names, *, timeout: float, procs: Processes) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = arrivals(receiver)
        if all(name in got for name in names):
            return got
        assert procs.alive(), procs.output()
        time.sleep(0.1)
    got = arrivals(receiver)
    missing = sorted(set(names) - set(got))
    raise AssertionError(f"not arrived after {timeout} s: {missing}\n{procs.output()}")


def wait_sent(count: int, *, procs: Processes, using: str = "default", timeout: float = 20) -> int:
    """The receiver has them; wait until the worker has recorded them too (it records after a batch)."""
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = Reminder.objects.using(using).filter(status="sent").count()
        if sent >= count:
            break
        time.sleep(0.1)
    return sent


def epoch(instant: datetime) -> float:
    return instant.timestamp()


@pytest.mark.django_db(transaction=True)
def test_redis_down_for_30_seconds_then_everything_due_arrives_and_workers_consume_again(tmp_path):
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as receiver, PrivateRedis() as redis:
        name = connections["default"].settings_dict["NAME"]
        env = process_env(
            database_url=f"postgres://postgres@127.0.0.1:5432/{name}", redis_url=redis.url(1), receiver=receiver
        )
        procs = Processes(env, tmp_path)
        procs.start()
        try:
            now = timezone.now()
            add_reminder(receiver, "before", now + timedelta(seconds=4))
            wait_arrived(receiver, ["before"], timeout=60, procs=procs)  # workers up, beat ticking
            assert wait_sent(1, procs=procs) == 1

            down_at = timezone.now()
            during = {f"during{i}": down_at + timedelta(seconds=s) for i, s in enumerate((3, 12, 24))}
            for who, due in during.items():
                add_reminder(receiver, who, due)
            redis.stop()
            time.sleep(30)
            assert procs.alive(), procs.output()
            assert set(arrivals(receiver)) == {"before"}  # nothing can be queued while Redis is down
            redis.start()
            up_at = timezone.now()
            add_reminder(receiver, "after", up_at + timedelta(seconds=5))

            got = wait_arrived(receiver, [*during, "after"], timeout=90, procs=procs)
            recorded = wait_sent(5, procs=procs)
        finally:
            procs.stop()

    late = {who: got[who][0] - epoch(up_at) for who in during}
    print(
        f"\nafter Redis came back: the overdue reminders arrived {sorted(round(s, 1) for s in late.values())} s later"
    )
    assert all(got[who][0] >= epoch(up_at) for who in during)
    # Once consuming again, the next one is on time (the worker reconnected by itself).
    assert epoch(up_at + timedelta(seconds=5)) - 0.5 <= got["after"][0] <= epoch(up_at + timedelta(seconds=5)) + 15
    assert all(len(copies) == 1 for copies in got.values()), got  # each slot once
    assert recorded == 5


def test_postgresql_restart_the_dispatcher_recovers_by_itself(tmp_path, django_db_blocker):
    # No test database: the processes and this test use a private cluster, reached through an alias.
    alias = "fault_pg"
    with (
        django_db_blocker.unblock(),
        PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as receiver,
        PrivateRedis() as redis,
        PrivatePostgres() as postgres,
    ):
        subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
            cwd=ROOT,
            env={**process_env(database_url=postgres.url("postgres"), redis_url=redis.url(1), receiver=receiver)},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        connections.settings[alias] = {
            **connections.settings["default"],
            "NAME": "postgres",
            "HOST": "127.0.0.1",
            "PORT": str(postgres.port),
            "TEST": {"NAME": "postgres"},
        }
        procs = Processes(process_env(database_url=postgres.url(), redis_url=redis.url(1), receiver=receiver), tmp_path)
        procs.start()
        try:
            now = timezone.now()
            add_reminder(receiver, "before", now + timedelta(seconds=4), using=alias)
            wait_arrived(receiver, ["before"], timeout=60, procs=procs)
            # Recorded too, before the server goes: a send whose answer cannot be recorded is sent again
            # once its claim expires (at least once, by design), which is not what this test is about.
            assert wait_sent(1, procs=procs, using=alias) == 1

            down_at = timezone.now()
            add_reminder(receiver, "during", down_at + timedelta(seconds=3), using=alias)
            connections[alias].close()
            postgres.stop("fast")  # every backend killed: the dispatcher's and the workers' connections die
            time.sleep(10)
            assert procs.alive(), procs.output()
            postgres.start()
            up_at = timezone.now()
            add_reminder(receiver, "after", up_at + timedelta(seconds=5), using=alias)
            got = wait_arrived(receiver, ["during", "after"], timeout=60, procs=procs)
            wait_sent(3, procs=procs, using=alias)
            beat = Heartbeat.objects.using(alias).get(name="dispatcher")
            statuses = sorted(Reminder.objects.using(alias).values_list("status", flat=True))
        finally:
            procs.stop()
            connections[alias].close()
            del connections.settings[alias]

    print(f"\nafter PostgreSQL came back: overdue arrived {got['during'][0] - epoch(up_at):.1f} s later")
    assert got["during"][0] >= epoch(up_at)
    assert got["after"][0] <= epoch(up_at + timedelta(seconds=5)) + 15
    assert all(len(copies) == 1 for copies in got.values()), got
    assert beat.at >= up_at.astimezone(UTC)  # the dispatcher runs again
    assert statuses == ["sent", "sent", "sent"]
