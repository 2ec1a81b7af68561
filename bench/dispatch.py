"""Reminder dispatch under a burst: the outbox + Celery worker vs. django-push-notifications' default path.

    .venv/bin/python bench/dispatch.py [--n 2000] [--tick 1.0] [--rate 50] [--seconds 20] [--no-lateness]

Steps: drop, recreate and migrate the database `backcare_dispatch_bench` (settings backcare.settings.test),
flush Redis db 7; start the loopback WebPush receiver (tests/support/push_receiver.py: HTTPS, checks VAPID,
decrypts every message) in a process of its own (bench/support/dispatch_receiver.py); create one patient
per message with one WebPush device subscribed at the receiver (the registration id is the full
https://127.0.0.1:<port>/push/<name> endpoint); start a real worker
`celery -A backcare worker --concurrency=2 -I bench.support.dispatch_tasks`. Then:

  burst     N reminders due at the same instant. A dispatcher loop in this process calls dispatch_due()
            every --tick seconds (beat's period), at once again while a full batch was claimed; the
            ticks are aligned on the due instant (the best case: beat's phase would add 0 to 1 tick).
            burst_s: from the due instant until the last message was accepted by the receiver.
  baseline  the same N messages the way a project without an outbox sends them: one Celery task per
            reminder with eta = the due instant, through the same worker, each doing
            WebPushDevice.send_message (pywebpush.webpush: VAPID signed per message, a new connection
            per message). Measured the same way, from the due instant to the last arrival.
  ceiling   no Django, no database, no Celery: 16 threads in this process encrypt (WebPusher.encode)
            and POST the same N messages over one requests.Session (trust_env off, verify = the CA),
            VAPID header signed once.
  lateness  --rate reminders/s for --seconds, each due at its own instant; arrival minus due per message.

Prints a table, then as the last line one JSON object of numbers. Targets (reported, not enforced):
ratio_vs_eta >= 3, ratio_vs_ceiling >= 0.6. The default N is 2,000, not 10,000: the baseline sends
about 40-80 msg/s over TLS here, so 10,000 would take minutes on its own (--n 10000 to run it anyway).
"""

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import harness  # noqa: E402

DB_NAME = "backcare_dispatch_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"
SETTINGS = "backcare.settings.test"
CEILING_THREADS = 16
LOCAL = "127.0.0.1,localhost"
TARGET_ETA, TARGET_CEILING = 3.0, 0.6


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- processes ----------------------------------------------------------------------------------------


class Receiver:
    """The receiver helper process, spoken to with one JSON line each way."""

    def __init__(self, vapid_public_key: str, env: dict) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [str(harness.BIN / "python"), "-m", "bench.support.dispatch_receiver", vapid_public_key],
            cwd=harness.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        hello = self._read()
        self.base_url, self.ca_file, self.pid = hello["base_url"], hello["ca_file"], hello["pid"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"receiver exited ({self.proc.poll()})")
        return json.loads(line)

    def call(self, op: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen | None) -> None:
    """Stop a process we started, and its process group (a worker's pool children)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # nothing may route elsewhere
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=f"{harness.PG_SERVER}/{DB_NAME}",
        REDIS_URL=REDIS_URL,
        BACKCARE_PUSH_ENDPOINT_HOSTS="127.0.0.1",
        BACKCARE_LOG_LEVEL="WARNING",
        NO_PROXY=LOCAL,
        no_proxy=LOCAL,
        PYTHONPATH=os.pathsep.join(filter(None, [str(harness.ROOT), os.environ.get("PYTHONPATH", "")])),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def start_worker(env: dict, log_file) -> subprocess.Popen:
    command = [
        str(harness.BIN / "python"),
        "-m",
        "celery",
        "-A",
        "backcare",
        "worker",
        "--concurrency=2",
        "-P",
        "prefork",
        "-l",
        "WARNING",
        "-Q",
        "celery,dispatch",
        "-I",
        "bench.support.dispatch_tasks",
        "-n",
        f"bench-dispatch-{os.getpid()}@%h",
    ]
    return subprocess.Popen(  # noqa: S603
        command, cwd=harness.ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_worker(app, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping")


def cpu_of(pids) -> float:
    return sum(harness._cpu_seconds(pid) for pid in pids)


class Cpu:
    """CPU seconds of the worker (pool children + master), the PostgreSQL backends, the receiver, this process."""

    def __init__(self, worker_pid: int, receiver_pid: int) -> None:
        self.worker_pid, self.receiver_pid = worker_pid, receiver_pid
        # Backends that exit mid-phase (each send thread closes its connection after a chunk) take their
        # CPU with them; the postmaster reaps them, so its children's CPU counts them (and any others).
        ((backend,),) = harness.db_query(DB_NAME, "SELECT pg_backend_pid()")
        stat = Path(f"/proc/{backend}/stat").read_text()
        self.postmaster = int(stat[stat.rindex(")") + 2 :].split()[1])

    def _reaped(self) -> float:
        try:
            stat = Path(f"/proc/{self.postmaster}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[13]) + int(fields[14])) / harness._TICKS

    def snapshot(self) -> dict:
        snap = harness.cpu_snapshot(self.worker_pid, DB_NAME)
        snap["web"][self.worker_pid] = harness._cpu_seconds(self.worker_pid)
        snap["db"][-1] = self._reaped()
        snap["receiver"] = {self.receiver_pid: harness._cpu_seconds(self.receiver_pid)}
        snap["bench"] = {os.getpid(): harness._cpu_seconds(os.getpid())}
        return snap

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        return {
            part: sum(max(0.0, cpu - before[part].get(pid, 0.0)) for pid, cpu in after[part].items())
            for part in ("web", "db", "receiver", "bench")
        }


# --- data ------------------------------------------------------------------------------------------


def create_patients(subs: list, *, far: datetime) -> dict[str, int]:
    """One quiet patient per subscription: profile (no plan of its own), episode, a running ice application,
    its ice_remove reminder (due far away until a phase sets it) and one WebPush device. Returns name -> device pk."""
    from django.db import transaction
    from push_notifications.models import WebPushDevice

    from backcare.accounts.models import Profile, User
    from recovery.models import Application, Episode, ProtocolVersion, Reminder

    version = ProtocolVersion.objects.order_by("-version").first()
    now = datetime.now(UTC)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=f"{name}-{uuid.uuid4().hex[:6]}@bench.invalid", password="!") for name, *_ in subs]
        )
        Profile.objects.bulk_create(
            [Profile(user=u, timezone="UTC", notify_treatment=False, notify_checkin=False) for u in users]
        )
        episodes = Episode.objects.bulk_create(
            [
                Episode(patient=u, onset=now - timedelta(hours=1), trigger="lifting", protocol_version=version)
                for u in users
            ]
        )
        apps = Application.objects.bulk_create(
            [
                Application(
                    patient=u, episode=e, client_uuid=uuid.uuid4(), kind="ice", started_at=now - timedelta(minutes=5)
                )
                for u, e in zip(users, episodes, strict=True)
            ]
        )
        Reminder.objects.bulk_create(
            [
                Reminder(
                    patient=u,
                    episode=e,
                    kind="ice_remove",
                    slot=f"ice_remove:{a.client_uuid}",
                    due_at=far,
                    safety=True,
                )
                for u, e, a in zip(users, episodes, apps, strict=True)
            ]
        )
        devices = WebPushDevice.objects.bulk_create(
            [
                WebPushDevice(user=u, registration_id=endpoint, p256dh=p256dh, auth=auth, browser="CHROME")
                for u, (_name, endpoint, p256dh, auth) in zip(users, subs, strict=True)
            ]
        )
    for device in devices:
        if not device.registration_id.startswith("https://127.0.0.1:"):
            raise RuntimeError(f"refusing device with registration {device.registration_id!r}")
    return {name: d.pk for (name, *_), d in zip(subs, devices, strict=True)}


def sample_payload(slot: str = "ice_remove:bench") -> dict:
    """What backcare sends for an ice_remove reminder (same shape and size as reminder_payload)."""
    return {
        "title": "Take the ice off now",
        "body": "Let your skin rest before the next application.",
        "tag": slot,
        "kind": "ice_remove",
        "reminder_id": 123456,
        "actions": [{"action": "done", "title": "Done"}],
        "url": "/",
    }


# --- the dispatcher loop (what beat + dispatch_due do) ---------------------------------------------------


class Dispatcher(threading.Thread):
    """dispatch_due() every `tick` seconds on a grid starting at `origin`; again at once after a full batch."""

    def __init__(self, tick: float, origin: float) -> None:
        super().__init__(name="dispatcher", daemon=True)
        self.tick, self.origin = tick, origin
        self.stop_event = threading.Event()
        self.calls = 0
        self.busy = 0.0
        self.claimed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connections

        from recovery import tasks

        try:
            while not self.stop_event.is_set():
                wait = self.origin - time.time()
                if wait > 0:
                    self.stop_event.wait(wait)
                    continue
                started = time.perf_counter()
                result = tasks.dispatch_due()
                self.busy += time.perf_counter() - started
                self.calls += 1
                self.claimed += result["deliveries"]
                if result["reminders"] >= tasks.DISPATCH_BATCH:
                    continue
                now = time.time()
                self.origin = now + self.tick - ((now - self.origin) % self.tick)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)
        if self.error:
            raise RuntimeError(f"dispatcher failed: {self.error!r}") from self.error


def set_due(names: list[str], due: datetime, *, spacing: float = 0.0) -> dict[str, float]:
    """Make the reminders of these patients due at `due` (+ i * spacing): name -> due epoch."""
    from django.db import connection, transaction

    from recovery.models import Reminder

    table = Reminder._meta.db_table
    by_name = {}
    with transaction.atomic(), connection.cursor() as cursor:
        rows = []
        for i, name in enumerate(names):
            when = due + timedelta(seconds=i * spacing)
            rows.append((name, when))
            by_name[name] = when.timestamp()
        cursor.execute("CREATE TEMP TABLE bench_due (name text PRIMARY KEY, due timestamptz) ON COMMIT DROP")
        with cursor.copy("COPY bench_due (name, due) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"""UPDATE {table} r SET due_at = b.due
                FROM push_notifications_webpushdevice d, bench_due b
                WHERE d.user_id = r.patient_id AND b.name = split_part(d.registration_id, '/push/', 2)"""  # noqa: S608
        )
        if cursor.rowcount != len(names):
            raise RuntimeError(f"set {cursor.rowcount} due times for {len(names)} reminders")
    return by_name


# --- phases ----------------------------------------------------------------------------------------


def phase_burst(receiver: Receiver, names: list[str], tick: float, cpu: Cpu, timeout: float) -> dict:
    from django.db.models import Avg, Sum

    from recovery.models import DeliveryAttempt, Reminder

    receiver.call("reset")
    due = time.time() + 3.0
    set_due(names, datetime.fromtimestamp(due, UTC))
    before = cpu.snapshot()
    dispatcher = Dispatcher(tick, origin=due)
    dispatcher.start()
    try:
        summary = receiver.call("wait", count=len(names), timeout=due - time.time() + timeout)
    finally:
        dispatcher.stop()
    after = cpu.snapshot()
    if summary["delivered"] < len(names):
        raise RuntimeError(f"burst: {summary['delivered']} of {len(names)} arrived: {summary}")
    sent = Reminder.objects.filter(status="sent").count()
    http = DeliveryAttempt.objects.aggregate(avg=Avg("duration_ms"), total=Sum("duration_ms"))
    return {
        "seconds": summary["last_at"] - due,
        "first_s": summary["first_at"] - due,
        "refused": summary["refused"],
        "cpu": Cpu.used(before, after),
        "dispatch_calls": dispatcher.calls,
        "dispatch_busy_s": dispatcher.busy,
        "reminders_sent": sent,
        "http_ms_avg": float(http["avg"] or 0),
        "http_s_total": float(http["total"] or 0) / 1000,
    }


def phase_baseline(receiver: Receiver, devices: dict[str, int], cpu: Cpu, timeout: float) -> dict:
    from bench.support.dispatch_tasks import default_send

    receiver.call("reset")
    items = list(devices.items())
    due = time.time() + 5.0 + len(items) / 250  # time to queue them all first (about 500/s here)
    eta = datetime.fromtimestamp(due, UTC)
    queue_started = time.time()
    from backcare.celery import app

    with app.producer_or_acquire() as producer:
        for name, device_id in items:
            message = json.dumps(sample_payload(f"ice_remove:{name}"), separators=(",", ":"))
            default_send.apply_async((device_id, message), eta=eta, producer=producer)
    queued = time.time() - queue_started
    if time.time() >= due:
        raise RuntimeError(f"queueing {len(items)} tasks took {queued:.1f} s, past their eta")
    before = cpu.snapshot()
    summary = receiver.call("wait", count=len(items), timeout=due - time.time() + timeout)
    after = cpu.snapshot()
    if summary["delivered"] < len(items):
        raise RuntimeError(f"baseline: {summary['delivered']} of {len(items)} arrived: {summary}")
    return {
        "seconds": summary["last_at"] - due,
        "first_s": summary["first_at"] - due,
        "refused": summary["refused"],
        "queue_s": queued,
        "cpu": Cpu.used(before, after),
    }


def phase_ceiling(receiver: Receiver, subs: list, cpu: Cpu) -> dict:
    import requests
    from pywebpush import WebPusher
    from requests.adapters import HTTPAdapter

    from backcare.push.transports import topic_for
    from backcare.push.vapid import vapid_headers_for

    receiver.call("reset")
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=CEILING_THREADS, max_retries=0))
    authorization = vapid_headers_for(subs[0][1])
    failures = []

    def send(sub) -> None:
        name, endpoint, p256dh, auth = sub
        slot = f"ice_remove:{name}"
        data = json.dumps(sample_payload(slot), separators=(",", ":")).encode()
        body = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}).encode(data, "aes128gcm")
        headers = {
            **authorization,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": "7200",
            "Topic": topic_for(slot),
            "Urgency": "high",
        }
        response = session.post(endpoint, data=body["body"], headers=headers, timeout=(5, 10), verify=receiver.ca_file)
        if response.status_code != 201:
            failures.append(response.status_code)

    with ThreadPoolExecutor(CEILING_THREADS) as pool:  # warm the connections (not counted)
        list(pool.map(send, subs[:CEILING_THREADS]))
    receiver.call("reset")
    before = cpu.snapshot()
    started = time.time()
    with ThreadPoolExecutor(CEILING_THREADS) as pool:
        list(pool.map(send, subs))
    summary = receiver.call("wait", count=len(subs), timeout=30)
    after = cpu.snapshot()
    session.close()
    if failures or summary["delivered"] < len(subs):
        raise RuntimeError(f"ceiling: {summary['delivered']} of {len(subs)} arrived, failures {failures[:5]}")
    return {"seconds": summary["last_at"] - started, "cpu": Cpu.used(before, after)}


def phase_lateness(receiver: Receiver, names: list[str], rate: float, tick: float, cpu: Cpu) -> dict:
    receiver.call("reset")
    start = time.time() + 3.0
    due_of = set_due(names, datetime.fromtimestamp(start, UTC), spacing=1.0 / rate)
    dispatcher = Dispatcher(tick, origin=start + tick / 2)  # free-running: beat's phase is arbitrary
    before = cpu.snapshot()
    dispatcher.start()
    try:
        span = len(names) / rate
        summary = receiver.call("wait", count=len(names), timeout=start - time.time() + span + 60)
    finally:
        dispatcher.stop()
    after = cpu.snapshot()
    if summary["delivered"] < len(names):
        raise RuntimeError(f"lateness: {summary['delivered']} of {len(names)} arrived: {summary}")
    first = {}
    for name, at in receiver.call("arrivals")["arrivals"]:
        first.setdefault(name, at)
    late = [first[name] - due_of[name] for name in names]
    return {
        "p50": harness.percentile(late, 0.50),
        "p99": harness.percentile(late, 0.99),
        "max": max(late),
        "mean": statistics.fmean(late),
        "cpu": Cpu.used(before, after),
    }


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (a prefork worker's pool), MiB."""
    total = 0
    for each in [pid, *harness._children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def phase_memory(worker: subprocess.Popen, devices: dict[str, int], future: int) -> dict:
    """Worker memory with `future` reminders scheduled: rows in the outbox, then the same as ETA tasks."""
    import redis as redis_lib
    from django.db import connection, transaction

    from backcare.celery import app
    from bench.support.dispatch_tasks import noop
    from recovery.models import Reminder
    from recovery.tasks import dispatch_due

    def settle() -> float:
        time.sleep(3)
        return rss_mib(worker.pid)

    start = settle()
    episodes = list(Reminder.objects.values_list("patient_id", "episode_id").distinct()[:1000])
    now = datetime.now(UTC)
    began = time.time()
    with transaction.atomic(), connection.cursor() as cursor:
        table = Reminder._meta.db_table
        columns = ("patient_id", "episode_id", "kind", "slot", "due_at", "safety", "status", "attempts")
        columns += ("last_error", "ack_action", "created_at", "updated_at")
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(future):
                patient_id, episode_id = episodes[i % len(episodes)]
                due = now + timedelta(hours=1, seconds=i * 6)  # the next week
                row = (patient_id, episode_id, "checkin", f"future:{i}", due, False, "scheduled", 0, "", "", now, now)
                copy.write_row(row)
    outbox_insert_s = time.time() - began
    for _ in range(5):
        dispatch_due.apply_async(expires=5)  # the worker polls the outbox: nothing is due yet
        time.sleep(0.5)
    outbox = settle()

    message = json.dumps(sample_payload("ice_remove:future"), separators=(",", ":"))
    device_ids = list(devices.values())
    eta = now + timedelta(minutes=50)  # under the broker's visibility timeout (1 h): no redelivery muddle
    began = time.time()
    with app.producer_or_acquire() as producer:
        for i in range(future):
            noop.apply_async((device_ids[i % len(device_ids)], message), eta=eta, producer=producer)
    queue_s = time.time() - began
    broker = redis_lib.Redis.from_url(REDIS_URL)
    deadline = time.time() + 600
    while broker.llen("celery") and time.time() < deadline:  # the worker takes every ETA task into memory
        time.sleep(1)
    taken_s = time.time() - began
    eta_rss = settle()
    return {
        "start_mib": start,
        "outbox_mib": outbox,
        "eta_mib": eta_rss,
        "outbox_growth_mib": outbox - start,
        "eta_growth_mib": eta_rss - outbox,
        "outbox_insert_s": outbox_insert_s,
        "eta_queue_s": queue_s,
        "eta_taken_s": taken_s,
        "left_in_queue": broker.llen("celery"),
    }


# --- main ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="messages in the burst (and baseline, ceiling)")
    parser.add_argument("--tick", type=float, default=1.0, help="dispatcher period, seconds (beat: 1 s)")
    parser.add_argument("--rate", type=float, default=200.0, help="lateness phase: reminders due per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="lateness phase: how long")
    parser.add_argument("--no-lateness", action="store_true")
    parser.add_argument("--future", type=int, default=100_000, help="memory phase: reminders scheduled (0: skip)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per phase, seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally below stops the subprocesses
    began = time.time()
    lateness_n = 0 if args.no_lateness else int(args.rate * args.seconds)

    from backcare.push.vapid import generate_private_key, private_key_to_pem, push_settings

    private_pem = private_key_to_pem(generate_private_key()).decode()
    public_key = push_settings(
        private_key=private_pem, subject="mailto:bench@backcare.invalid", required=True
    ).public_key

    env = base_env()
    env["BACKCARE_VAPID_PRIVATE_KEY"] = private_pem
    receiver = worker = None
    worker_log = tempfile.NamedTemporaryFile(prefix="bench-dispatch-worker-", suffix=".log", delete=False)  # noqa: SIM115
    ok = False
    try:
        log(f"database {DB_NAME}: reset and migrate")
        harness.reset_database(DB_NAME)
        receiver = Receiver(public_key, env)
        env.update(BACKCARE_PUSH_CA_BUNDLE=receiver.ca_file, REQUESTS_CA_BUNDLE=receiver.ca_file)
        os.environ.update(env)
        for key in [k for k in os.environ if "proxy" in k.lower() and k.lower() != "no_proxy"]:
            del os.environ[key]
        subprocess.run(  # noqa: S603
            [str(harness.BIN / "python"), "manage.py", "migrate", "--noinput"],
            cwd=harness.ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        import django

        django.setup()
        import redis

        from backcare.celery import app

        redis.Redis.from_url(REDIS_URL).flushdb()

        log(f"receiver {receiver.base_url} (pid {receiver.pid}); subscribing {args.n} + {lateness_n} devices")
        burst_subs = receiver.call("subs", prefix="b", n=args.n)["subs"]
        late_subs = receiver.call("subs", prefix="l", n=lateness_n)["subs"] if lateness_n else []
        far = datetime.now(UTC) + timedelta(days=1)
        devices = create_patients(burst_subs, far=far)
        if late_subs:
            create_patients(late_subs, far=far + timedelta(hours=1))
        from django.db import connection

        connection.close()

        worker = start_worker(env, worker_log)
        wait_worker(app, worker)
        cpu = Cpu(worker.pid, receiver.pid)
        names = [s[0] for s in burst_subs]

        log(f"burst: {args.n} reminders due at once, worker --concurrency=2, dispatcher tick {args.tick} s")
        burst = phase_burst(receiver, names, args.tick, cpu, args.timeout)
        log(f"  {burst['seconds']:.2f} s")
        log(f"baseline: {args.n} ETA tasks -> WebPushDevice.send_message")
        baseline = phase_baseline(receiver, devices, cpu, args.timeout)
        log(f"  {baseline['seconds']:.2f} s")
        log(f"ceiling: {args.n} messages, {CEILING_THREADS} threads, shared session")
        ceiling = phase_ceiling(receiver, burst_subs, cpu)
        log(f"  {ceiling['seconds']:.2f} s")
        lateness = None
        if late_subs:
            log(f"lateness: {args.rate:g}/s for {args.seconds:g} s")
            lateness = phase_lateness(receiver, [s[0] for s in late_subs], args.rate, args.tick, cpu)
        memory = None
        if args.future:
            log(f"memory: {args.future} future reminders in the outbox, then as ETA tasks")
            memory = phase_memory(worker, devices, args.future)
        report(args, burst, baseline, ceiling, lateness, memory, time.time() - began, worker_log.name)
        ok = True
    finally:
        stop_process(worker)
        if receiver is not None:
            receiver.stop()
        worker_log.close()
        if ok:
            os.unlink(worker_log.name)
        else:
            log(f"worker output kept in {worker_log.name}")
    return 0


def report(args, burst, baseline, ceiling, lateness, memory, runtime, worker_log_name) -> None:
    n = args.n
    rows = [
        ("backcare outbox (burst)", burst["seconds"], burst["cpu"]),
        ("baseline: ETA task + send_message", baseline["seconds"], baseline["cpu"]),
        (f"ceiling: encode + POST, {CEILING_THREADS} threads", ceiling["seconds"], ceiling["cpu"]),
    ]
    note = "" if n >= 10000 else f" (N = {n}, scaled down from 10,000: the baseline alone would take minutes)"
    print(f"Reminder dispatch, {n} WebPush messages over TLS to a loopback receiver{note}")
    print()
    print(f"{'path':<40} {'seconds':>8} {'msg/s':>8}   CPU ms/msg: {'worker':>7} {'pg':>6} {'recv':>6} {'bench':>6}")
    for label, seconds, cpu in rows:
        per = {k: 1000 * v / n for k, v in cpu.items()}
        print(
            f"{label:<40} {seconds:>8.2f} {n / seconds:>8.0f}   {'':>11} {per['web']:>7.2f} {per['db']:>6.2f}"
            f" {per['receiver']:>6.2f} {per['bench']:>6.2f}"
        )
    print(
        "CPU columns: worker = celery master + pool children; pg = backends of this database plus those"
        " the postmaster reaped during the phase; recv = receiver process; bench = this process"
        " (the burst's dispatcher loop, the ceiling's senders)"
    )
    print()
    print(
        f"burst: first arrival {burst['first_s']:.2f} s after due; {burst['dispatch_calls']} dispatch_due calls "
        f"busy {burst['dispatch_busy_s']:.2f} s (in the bench process); HTTP per send {burst['http_ms_avg']:.1f} ms avg "
        f"(sum {burst['http_s_total']:.1f} s over 2 processes x 16 threads); refused {burst['refused']}"
    )
    print(f"baseline: first arrival {baseline['first_s']:.2f} s after due; queueing took {baseline['queue_s']:.2f} s")
    if lateness:
        print(
            f"lateness at {args.rate:g}/s for {args.seconds:g} s, tick {args.tick:g} s: p50 {lateness['p50']:.3f} s,"
            f" p99 {lateness['p99']:.3f} s, max {lateness['max']:.3f} s"
        )
    if memory:
        print(
            f"worker memory with {args.future} future reminders: outbox {memory['start_mib']:.0f} ->"
            f" {memory['outbox_mib']:.0f} MiB ({memory['outbox_growth_mib']:+.1f}; rows inserted in"
            f" {memory['outbox_insert_s']:.1f} s); as ETA tasks -> {memory['eta_mib']:.0f} MiB"
            f" ({memory['eta_growth_mib']:+.1f}; queued in {memory['eta_queue_s']:.0f} s, all taken by the worker"
            f" after {memory['eta_taken_s']:.0f} s, {memory['left_in_queue']} left in the queue)"
        )
    burst_rate = n / burst["seconds"]
    baseline_rate = n / baseline["seconds"]
    ceiling_rate = n / ceiling["seconds"]
    ratio_eta = burst_rate / baseline_rate
    ratio_ceiling = burst_rate / ceiling_rate
    print(
        f"ratio_vs_eta {ratio_eta:.2f} (target >= {TARGET_ETA:g}), ratio_vs_ceiling {ratio_ceiling:.2f}"
        f" (target >= {TARGET_CEILING:g}); runtime {runtime:.0f} s"
    )
    result = {
        "n": n,
        "full_n": int(n >= 10000),
        "burst_s": round(burst["seconds"], 3),
        "burst_msg_per_s": round(burst_rate, 1),
        "burst_first_s": round(burst["first_s"], 3),
        "baseline_s": round(baseline["seconds"], 3),
        "baseline_msg_per_s": round(baseline_rate, 1),
        "ceiling_s": round(ceiling["seconds"], 3),
        "ceiling_msg_per_s": round(ceiling_rate, 1),
        "ratio_vs_eta": round(ratio_eta, 3),
        "ratio_vs_ceiling": round(ratio_ceiling, 3),
        "burst_worker_cpu_ms_per_msg": round(1000 * burst["cpu"]["web"] / n, 3),
        "burst_db_cpu_ms_per_msg": round(1000 * burst["cpu"]["db"] / n, 3),
        "burst_dispatcher_busy_s": round(burst["dispatch_busy_s"], 3),
        "baseline_worker_cpu_ms_per_msg": round(1000 * baseline["cpu"]["web"] / n, 3),
        "tick_s": args.tick,
        "runtime_s": round(runtime, 1),
    }
    if lateness:
        result.update(
            lateness_p50_s=round(lateness["p50"], 4),
            lateness_p99_s=round(lateness["p99"], 4),
            lateness_max_s=round(lateness["max"], 4),
            lateness_rate_per_s=args.rate,
        )
    if memory:
        result.update(
            future_reminders=args.future,
            memory_outbox_growth_mib=round(memory["outbox_growth_mib"], 1),
            memory_eta_growth_mib=round(memory["eta_growth_mib"], 1),
            memory_outbox_mib=round(memory["outbox_mib"], 1),
            memory_eta_mib=round(memory["eta_mib"], 1),
        )
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
