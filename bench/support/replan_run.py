"""Seed and measure the re-planning benchmark in-process: `python -m bench.support.replan_run` (bench settings,
a migrated bench database with the content loaded; bench/replan.py drives it and prints the table).

Two patients, same 320-day episode (onset 320 days ago, UTC, heat phase): `small` with 5 applications, 5
check-ins, 1 rest period and 2 intakes; `huge` with 5,000 applications (every 50th closed by the server), a
check-in a day, a rest period a day for the first 30 days and two intakes a day for the first 30 days. For each,
rounds of: PUT /api/applications/<new uuid>/ {"kind": "heat"} (start, 201), POST .../stop/ (200), then the new
row is deleted outside the timing so every round sees the same history. The baseline, GET of one existing
application (/api/applications/<uuid>/), is timed in the same rounds. Prints one JSON object on stdout.
"""

import argparse
import json
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from backcare.accounts.models import Profile, User  # noqa: E402
from recovery.episodes.models import CheckIn, Episode  # noqa: E402
from recovery.reminders.models import Reminder  # noqa: E402
from recovery.treatment.models import Application, MedicationIntake, ProtocolVersion, RestPeriod  # noqa: E402

DAYS = 320


def seed(name: str, *, applications: int, daily: bool) -> tuple[str, str]:
    now = timezone.now()
    onset = now - timedelta(days=DAYS)
    user = User.objects.create(email=f"bench-{name}@example.com", display_name=name)
    Profile.objects.create(user=user, timezone="UTC")
    version = ProtocolVersion.objects.order_by("-version").first()
    episode = Episode.objects.create(patient=user, onset=onset, trigger="lifting", protocol_version=version)
    # Applications every 90 min (20 min on), backwards from 3 h ago so the last pause is over.
    step, on = timedelta(minutes=90), timedelta(minutes=20)
    first = now - timedelta(hours=3) - step * (applications - 1)
    Application.objects.bulk_create(
        [
            Application(
                patient=user,
                episode=episode,
                client_uuid=uuid.uuid4(),
                kind="ice" if first + step * i < onset + timedelta(hours=72) else "heat",
                started_at=first + step * i,
                stopped_at=first + step * i + on,
                auto_closed=i % 50 == 49,
            )
            for i in range(applications)
        ],
        batch_size=2000,
    )
    days = range(DAYS) if daily else range(5)
    CheckIn.objects.bulk_create(
        [
            CheckIn(
                patient=user,
                episode=episode,
                client_uuid=uuid.uuid4(),
                occurred_at=onset + timedelta(days=d, hours=20),
                pain=max(0, 8 - d // 10),
                payload_hash="bench",
            )
            for d in days
        ]
    )
    rest_days = range(30) if daily else range(1)
    RestPeriod.objects.bulk_create(
        [
            RestPeriod(
                patient=user,
                episode=episode,
                client_uuid=uuid.uuid4(),
                started_at=onset + timedelta(days=d, hours=12),
                stopped_at=onset + timedelta(days=d, hours=13),
            )
            for d in rest_days
        ]
    )
    intake_times = [onset + timedelta(days=d, hours=h) for d in range(30) for h in (9, 21)] if daily else []
    intake_times = intake_times or [onset + timedelta(hours=9), onset + timedelta(hours=21)]
    MedicationIntake.objects.bulk_create(
        [
            MedicationIntake(
                patient=user,
                episode=episode,
                client_uuid=uuid.uuid4(),
                taken_at=at,
                med_class="nsaid",
                name="ibuprofen",
                dose_mg=Decimal("400"),
                payload_hash="bench",
            )
            for at in intake_times
        ]
    )
    token = AuthToken.objects.create(user)[1]
    existing = Application.objects.filter(episode=episode).values_list("client_uuid", flat=True).first()
    return token, str(existing)


def timed(client: Client, method: str, path: str, body: dict | None, wanted: int) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        if method == "PUT":
            response = client.put(path, json.dumps(body or {}), content_type="application/json")
        elif method == "POST":
            response = client.post(path, json.dumps(body or {}), content_type="application/json")
        else:
            response = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != wanted:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.content[:300]!r}")
    return elapsed, len(queries.captured_queries)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    patients = {
        "small": seed("small", applications=5, daily=False),
        "huge": seed("huge", applications=5000, daily=True),
    }
    connection.cursor().execute("ANALYZE")
    clients = {
        name: Client(headers={"Authorization": f"Token {token}"}, SERVER_NAME="127.0.0.1")
        for name, (token, _) in patients.items()
    }
    samples: dict[str, list[float]] = {}
    queries: dict[str, int] = {}

    def record(key: str, result: tuple[float, int]) -> None:
        samples.setdefault(key, []).append(result[0])
        queries[key] = max(queries.get(key, 0), result[1])

    for index in range(args.rounds + 3):  # 3 warm-up rounds, not counted
        order = ("small", "huge") if index % 2 else ("huge", "small")
        for name in order:
            client, existing = clients[name], patients[name][1]
            app = uuid.uuid4()
            results = {
                f"{name}_start": timed(client, "PUT", f"/api/applications/{app}/", {"kind": "heat"}, 201),
                f"{name}_stop": timed(client, "POST", f"/api/applications/{app}/stop/", {}, 200),
                f"{name}_baseline_get": timed(client, "GET", f"/api/applications/{existing}/", None, 200),
            }
            # Keep the history the same size every round (outside the timing).
            Reminder.objects.filter(slot__contains=str(app)).delete()
            Application.objects.filter(client_uuid=app).delete()
            if index >= 3:
                for key, result in results.items():
                    record(key, result)
    print(json.dumps({"samples": samples, "queries": queries}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
