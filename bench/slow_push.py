"""One trickling push endpoint among 200 due reminders: how late are the others?

    .venv/bin/python bench/slow_push.py [--n 200] [--trickle 2.0] [--deadline 10]

Steps: drop, recreate and migrate the database `h_push_slow_bench`; start the loopback WebPush receiver
(tests/support/push_receiver.py) in this process; then three phases in the same run, each with --n fresh
reminders due at the same instant (one patient and one device per reminder), claimed by the real
dispatcher step and sent the way the worker sends them (chunks of recovery.tasks.SEND_CHUNK, two at a time
as the worker's --concurrency=2, each chunk from the 16 sender threads):

  clean         every device answers at once
  clean_old     the same, each chunk recorded only when all of its sends are done (the cost of recording
                answers as they come in: more, smaller transactions)
  trickler      one device's push service answers one byte every --trickle seconds (cut at the push
                deadline, --deadline seconds, and retried later)
  trickler_old  the same, but each chunk recorded only when all of its sends are done (the behaviour
                before issue 14), to show what recording answers as they come in changes

Lateness of a reminder: from its due instant (set on all of them at once, just before the dispatcher
step) until its delivery was recorded sent; the trickling one, not sent, is left out. A delivery the
trickling phase left to retry may be sent again in a later phase: it is not counted there. Prints a table, then as the last line one flat JSON object of numbers.
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import harness  # noqa: E402

DB_NAME = "h_push_slow_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--trickle", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=10.0)
    args = parser.parse_args()

    harness.reset_database(DB_NAME)
    harness.manage(DB_NAME, "migrate", "--noinput")
    os.environ.update(harness.bench_env(DB_NAME))
    import django

    django.setup()
    from django.conf import settings

    from tests.support.push_receiver import PushReceiver

    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY, count_only=True) as receiver:
        settings.BACKCARE_PUSH_CA_BUNDLE = receiver.ca_file
        settings.BACKCARE_PUSH_DEADLINE = args.deadline
        run_phase("warmup", receiver, n=20, trickle=args.trickle)  # connections, pools, caches: not reported
        rows = {}
        for phase in ("clean", "clean_old", "trickler", "trickler_old"):
            rows[phase] = run_phase(phase, receiver, n=args.n, trickle=args.trickle)

    print(f"{'phase':<14} {'sent':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'slow':>6} {'groups':>7}")
    for phase, row in rows.items():
        print(
            f"{phase:<14} {row['sent']:>5} {row['p50']:>8.0f} {row['p99']:>8.0f} {row['max']:>8.0f} {row['slow']:>6}"
            f" {row['groups']:>7}"
        )
    flat = {"n": args.n, "trickle_s": args.trickle, "deadline_s": args.deadline}
    for phase, row in rows.items():
        flat.update({f"{phase}_{key}": value for key, value in row.items()})
    print(json.dumps(flat))


def run_phase(phase: str, receiver, *, n: int, trickle: float) -> dict:
    from django.db import connection
    from django.utils import timezone

    from recovery.reminders import sending
    from recovery.reminders.dispatch import reminders_dispatch
    from recovery.reminders.models import Delivery, Reminder
    from recovery.tasks import SEND_CHUNK
    from tests.factories import EpisodeFactory
    from tests.recovery.reminders.conftest import make_reminder, quiet_patient, subscribe

    later = timezone.now() + timedelta(days=1)  # not due while the phase is set up
    reminders = []
    for number in range(n):
        user = quiet_patient()
        episode = EpisodeFactory(patient=user, onset=timezone.now())
        subscribe(user, receiver, f"{phase}-{number}")
        reminders.append(make_reminder(episode, due_at=later).pk)
    slow_name = f"{phase}-{n // 2}"
    if phase.startswith("trickler"):
        receiver.respond(slow_name, ("trickle", trickle))

    answered = sending._answered
    record = sending._record_batch
    groups = []

    def counted(jobs, *, now):
        groups.append(len(jobs))
        return record(jobs, now=now)

    sending._record_batch = counted
    if phase.endswith("_old"):

        def all_at_once(jobs, *, threads):
            done = [job for group in answered(jobs, threads=threads) for job in group]
            yield done

        sending._answered = all_at_once
    try:
        due = timezone.now()
        Reminder.objects.filter(pk__in=reminders).update(due_at=due)
        result = reminders_dispatch(now=timezone.now())
        chunks = [result.deliveries[i : i + SEND_CHUNK] for i in range(0, len(result.deliveries), SEND_CHUNK)]

        def send(chunk):
            try:
                return sending.deliveries_send_many(
                    delivery_ids=chunk, claim=result.claim, threads=16, replan=lambda episodes: None
                )
            finally:
                connection.close()

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as worker:  # the worker's --concurrency=2
            list(worker.map(send, chunks))
        elapsed = time.monotonic() - started
    finally:
        sending._answered, sending._record_batch = answered, record

    mine = Delivery.objects.filter(reminder_id__in=reminders)
    sent = mine.filter(status=Delivery.Status.SENT)
    lateness = sorted((row.sent_at - due).total_seconds() * 1000 for row in sent)
    slow = mine.exclude(status=Delivery.Status.SENT).count()
    return {
        "sent": len(lateness),
        "p50": harness.percentile(lateness, 0.5),
        "p99": harness.percentile(lateness, 0.99),
        "max": lateness[-1] if lateness else 0.0,
        "slow": slow,
        "groups": len(groups),  # recording transactions
        "elapsed_s": round(elapsed, 2),
    }


if __name__ == "__main__":
    main()
