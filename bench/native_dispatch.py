"""A mixed reminder burst: WebPush, FCM and APNs devices at once, through the outbox and a real Celery worker.

    .venv/bin/python bench/native_dispatch.py [--n 300] [--tick 1.0]

Steps: drop, recreate and migrate the database `backcare_native_bench` (settings backcare.settings.test),
flush Redis db 7; start, in this process, the three loopback stand-ins (tests/support/): the WebPush receiver
(HTTPS, VAPID checked, every message decrypted), the FCM service (HTTPS, its own OAuth token endpoint, bearer
tokens checked) and the APNs service (HTTP/2 over TLS, ES256 provider tokens verified); create --n patients
per transport, each with one device of its kind and one safety reminder; start a real worker
(`celery -A backcare worker --concurrency=2`, the settings pointed at the stand-ins); make every reminder due
at the same instant and run the dispatcher (bench/dispatch.py's loop, every --tick seconds) until all
3 x N messages have arrived. Per transport: first and last arrival after the due instant, messages per
second from its first arrival to its last, p50 / p95 of arrival minus due, HTTP time per send
(DeliveryAttempt.duration_ms), and the TLS connections / token exchanges the stand-ins saw (one FCM token
per worker process, one APNs connection per sender thread). The dispatcher expands deliveries kind by kind
(webpush, fcm, apns) into chunks of 50, so the later kinds start later: compare first/last, not only p50.

The stand-ins run in this process (threads, one GIL, beside the dispatcher loop): the figures compare the
transports with each other on this machine, they are not the push services' own speed. Prints a table,
then as the last line one JSON object of numbers.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import Dispatcher, base_env, start_worker, stop_process, wait_worker  # noqa: E402
from bench.support import harness  # noqa: E402

DB_NAME = "backcare_native_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"
KINDS = ("webpush", "fcm", "apns")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def create_patients(kind: str, registrations: list[tuple[str, dict]], *, far: datetime) -> None:
    """One quiet patient per registration: profile, episode, running ice, its ice_remove reminder (due far
    away until the burst sets it) and one device of `kind`."""
    from django.db import transaction
    from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

    from backcare.accounts.models import Profile, User
    from recovery.models import Application, Episode, ProtocolVersion, Reminder

    version = ProtocolVersion.objects.order_by("-version").first()
    now = datetime.now(UTC)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=f"{name}-{uuid.uuid4().hex[:6]}@bench.invalid", password="!") for name, _ in registrations]
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
                Application(patient=u, episode=e, client_uuid=uuid.uuid4(), kind="ice", started_at=now)
                for u, e in zip(users, episodes, strict=True)
            ]
        )
        Reminder.objects.bulk_create(
            [
                Reminder(
                    patient=u, episode=e, kind="ice_remove", slot=f"ice_remove:{a.client_uuid}", due_at=far, safety=True
                )
                for u, e, a in zip(users, episodes, apps, strict=True)
            ]
        )
        model = {"webpush": WebPushDevice, "fcm": GCMDevice, "apns": APNSDevice}[kind]
        model.objects.bulk_create(
            [model(user=u, **fields) for u, (_, fields) in zip(users, registrations, strict=True)]
        )


def registrations(kind: str, service, n: int) -> list[tuple[str, dict]]:
    rows = []
    for i in range(n):
        name = f"{kind[0]}{i}"
        if kind == "webpush":
            sub = service.subscription(name)
            fields = {"registration_id": sub["endpoint"], "browser": "CHROME", **sub["keys"]}
        elif kind == "fcm":
            fields = {"registration_id": service.device(name), "cloud_message_type": "FCM"}
        else:
            fields = {"registration_id": service.device(name)}
        rows.append((name, fields))
    return rows


def arrivals(kind: str, service) -> list[float]:
    ok = 201 if kind == "webpush" else 200
    return sorted(m.at for m in service.received if m.status == ok)


def figures(kind: str, service, due: float, n: int) -> dict:
    from django.db.models import Avg

    from recovery.models import DeliveryAttempt

    times = arrivals(kind, service)
    late = [t - due for t in times]
    seconds = max(late[-1] - late[0], 1e-3)
    http = DeliveryAttempt.objects.filter(delivery__device_type=kind).aggregate(avg=Avg("duration_ms"))["avg"]
    return {
        "delivered": len(times),
        "first_s": late[0],
        "last_s": late[-1],
        "msg_per_s": n / seconds,
        "p50_s": harness.percentile(late, 0.50),
        "p95_s": harness.percentile(late, 0.95),
        "http_ms_avg": float(http or 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="devices (and reminders) per transport")
    parser.add_argument("--tick", type=float, default=1.0, help="dispatcher period, seconds (beat: 1 s)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.time()

    from backcare.push.vapid import generate_private_key, private_key_to_pem, push_settings
    from tests.support.apns_service import ApnsService
    from tests.support.fcm_service import FcmService
    from tests.support.native_fixtures import apns_env, fcm_env
    from tests.support.push_receiver import PushReceiver

    private_pem = private_key_to_pem(generate_private_key()).decode()
    public_key = push_settings(
        private_key=private_pem, subject="mailto:bench@backcare.invalid", required=True
    ).public_key
    services = {
        "webpush": PushReceiver(vapid_public_key=public_key, count_only=True),
        "fcm": FcmService(),
        "apns": ApnsService(),
    }
    worker = None
    worker_log = tempfile.NamedTemporaryFile(prefix="bench-native-worker-", suffix=".log", delete=False)  # noqa: SIM115
    bundle = tempfile.NamedTemporaryFile("w", prefix="bench-native-ca-", suffix=".pem", delete=False)  # noqa: SIM115
    ok = False
    try:
        for service in services.values():
            service.start()
            bundle.write(Path(service.ca_file).read_text())
        bundle.close()
        env = base_env() | {"DATABASE_URL": f"{harness.PG_SERVER}/{DB_NAME}", "REDIS_URL": REDIS_URL}
        env |= {"BACKCARE_VAPID_PRIVATE_KEY": private_pem, "BACKCARE_PUSH_CA_BUNDLE": bundle.name}
        env |= fcm_env(services["fcm"]) | apns_env(services["apns"])
        os.environ.update(env)
        for key in [k for k in os.environ if "proxy" in k.lower() and k.lower() != "no_proxy"]:
            del os.environ[key]
        log(f"database {DB_NAME}: reset and migrate")
        harness.reset_database(DB_NAME)
        manage = [str(harness.BIN / "python"), "manage.py", "migrate", "--noinput"]
        subprocess.run(manage, cwd=harness.ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        import django

        django.setup()
        import redis
        from django.db import connection

        from backcare.celery import app
        from recovery.models import Delivery, Reminder

        redis.Redis.from_url(REDIS_URL).flushdb()
        far = datetime.now(UTC) + timedelta(days=1)
        for kind in KINDS:
            create_patients(kind, registrations(kind, services[kind], args.n), far=far)
        connection.close()
        worker = start_worker(env, worker_log)
        wait_worker(app, worker)

        total = len(KINDS) * args.n
        log(f"burst: {total} reminders ({args.n} per transport) due at once, worker --concurrency=2")
        due = time.time() + 3.0
        assert Reminder.objects.update(due_at=datetime.fromtimestamp(due, UTC)) == total
        dispatcher = Dispatcher(args.tick, origin=due)
        dispatcher.start()
        deadline = time.monotonic() + args.timeout
        try:
            while sum(len(arrivals(k, services[k])) for k in KINDS) < total and time.monotonic() < deadline:
                time.sleep(0.2)
            # The arrivals are in; the worker records their answers just after: wait for the ledger too.
            while Delivery.objects.filter(status="sent").count() < total and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            dispatcher.stop()
        results = {kind: figures(kind, services[kind], due, args.n) for kind in KINDS}
        short = {k: r["delivered"] for k, r in results.items() if r["delivered"] < args.n}
        if short:
            raise RuntimeError(f"not all arrived: {short} of {args.n}")
        results["fcm"]["token_exchanges"] = sum(1 for code, _ in services["fcm"].token_requests if code == 200)
        results["apns"]["connections"] = services["apns"].connections
        report(args, results, time.time() - began)
        ok = True
    finally:
        stop_process(worker)
        for service in services.values():
            service.stop()
        worker_log.close()
        os.unlink(bundle.name)
        if ok:
            os.unlink(worker_log.name)
        else:
            log(f"worker output kept in {worker_log.name}")
    return 0


def report(args, results: dict, runtime: float) -> None:
    n = args.n
    print(f"Mixed reminder burst: {n} WebPush + {n} FCM + {n} APNs messages due at once, loopback stand-ins")
    print()
    print(f"{'transport':<10} {'first s':>8} {'last s':>8} {'msg/s':>8} {'p50 s':>7} {'p95 s':>7} {'HTTP ms':>8}")
    for kind in KINDS:
        r = results[kind]
        print(
            f"{kind:<10} {r['first_s']:>8.2f} {r['last_s']:>8.2f} {r['msg_per_s']:>8.0f} {r['p50_s']:>7.2f}"
            f" {r['p95_s']:>7.2f} {r['http_ms_avg']:>8.1f}"
        )
    print()
    print(
        f"FCM access tokens fetched: {results['fcm']['token_exchanges']}; APNs TLS connections: "
        f"{results['apns']['connections']} (one per sender thread); runtime {runtime:.0f} s"
    )
    flat = {"n_per_transport": n, "runtime_s": round(runtime, 1)}
    for kind in KINDS:
        for key, value in results[kind].items():
            flat[f"{kind}_{key}"] = round(value, 4) if isinstance(value, float) else value
    print(json.dumps(flat))


if __name__ == "__main__":
    sys.exit(main())
