"""Cost of the pure protocol planner, `recovery.protocol.engine.plan()`, on realistic histories.

    .venv/bin/python bench/protocol.py [--episodes 10000] [--seed 7]

Builds the Situations first (not timed): one per episode, each with a 72 h history of a patient
who follows most reminders (about 30 ice applications, some started late, stopped early or
skipped, a few left running for the engine to close), a few bed-rest periods, medication intakes,
3-6 check-ins and a couple of walks, in varied zones (with and without DST) and sleep windows.
`now` is shortly after the last event. Then times every `plan()` call one by one.

Baselines, on the same histories and timed the same way:
  json_dumps   json.dumps of the episode's history, pre-converted to plain dicts of ISO strings
               (what storing or returning that history once costs);
  fixed_grid   a trivial planner: next start = last stop + 90 min, moved out of the sleep window
               with the same localtime helpers, plus the remove reminder of a running application.

Prints a table, then as the last line one JSON object of numbers.
"""

import argparse
import gc
import json
import random
import statistics
import sys
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recovery.protocol.definition import Protocol  # noqa: E402
from recovery.protocol.engine import (  # noqa: E402
    Application,
    Intake,
    PainPoint,
    Patient,
    RestPeriod,
    Situation,
    Walk,
    plan,
)
from recovery.protocol.localtime import in_window, out_of_window, window_end_after  # noqa: E402

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "America/Sao_Paulo",
        "Australia/Sydney",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "America/St_Johns",
        "UTC",
    )
]
PROTOCOL = Protocol(version=1)


def build_episode(rng: random.Random) -> Situation:
    zone = rng.choice(ZONES)
    sleep_start_min = rng.choice([21 * 60, 22 * 60, 22 * 60 + 30, 23 * 60, 23 * 60 + 30, 0, 60])
    sleep_len = rng.randint(6 * 60, 9 * 60)
    sleep_end_min = (sleep_start_min + sleep_len) % (24 * 60)
    patient = Patient(
        zone,
        time(sleep_start_min // 60, sleep_start_min % 60),
        time(sleep_end_min // 60, sleep_end_min % 60),
        desk_worker=rng.random() < 0.4,
    )
    # Onsets over two years, so some histories cross DST changes.
    onset = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
    end = onset + timedelta(hours=72)

    def awake(at: datetime) -> datetime:
        at = out_of_window(at, zone, patient.sleep_start, patient.sleep_end)
        if in_window(at + timedelta(minutes=20), zone, patient.sleep_start, patient.sleep_end):
            at = window_end_after(at + timedelta(minutes=20), zone, patient.sleep_end)
        return at

    # Applications: follows most reminders.
    apps: list[Application] = []
    due = awake(onset)
    while due < end:
        roll = rng.random()
        if roll < 0.08:  # skipped: the next reminder one cycle later
            due = awake(due + timedelta(minutes=110))
            continue
        start = due + (timedelta(minutes=rng.randint(1, 40)) if roll < 0.2 else timedelta(0))
        kind = "ice" if start < end else "heat"
        length = timedelta(minutes=rng.randint(8, 19) if roll > 0.9 else 20)
        left_running = rng.random() < 0.03
        stop = start + timedelta(minutes=20) if left_running else start + length
        apps.append(Application(f"app-{len(apps)}", kind, start, stop, auto_closed=left_running))
        due = awake(stop + timedelta(minutes=90))
    last_event = apps[-1].stop if apps else onset

    # A few bed-rest periods, mostly in the first day or two.
    rests = []
    at = onset + timedelta(hours=rng.uniform(0.5, 6))
    for _ in range(rng.randint(1, 4)):
        length = timedelta(hours=rng.uniform(1, 8))
        rests.append(RestPeriod(at, at + length))
        at += length + timedelta(hours=rng.uniform(2, 14))
        if at > end:
            break
    # Medication: NSAIDs two or three times a day, sometimes a muscle relaxant, paracetamol.
    intakes = []
    for day in range(3):
        for hour in rng.sample([8, 12, 16, 20], rng.randint(1, 3)):
            intakes.append(Intake("nsaid", onset + timedelta(days=day, hours=hour - 8, minutes=rng.randint(0, 50))))
        if rng.random() < 0.3:
            intakes.append(Intake("muscle_relaxant", onset + timedelta(days=day, hours=13)))
        if rng.random() < 0.5:
            intakes.append(Intake("paracetamol", onset + timedelta(days=day, hours=rng.randint(1, 14))))
    checkins = [
        PainPoint(onset + timedelta(hours=rng.uniform(0, 72)), rng.randint(2, 8)) for _ in range(rng.randint(3, 6))
    ]
    walks = [
        Walk(onset + timedelta(hours=rng.uniform(30, 72)), rng.choice([10, 20, 30, 35]), 4, rng.randint(2, 5))
        for _ in range(rng.randint(1, 3))
    ]
    now = max(last_event, end) + timedelta(minutes=rng.randint(0, 30))
    if rng.random() < 0.2:  # a rest still going on
        rests.append(RestPeriod(now - timedelta(minutes=rng.randint(5, 90))))
    if rng.random() < 0.25:  # an application running right now
        kind = "ice" if now < end else "heat"
        apps.append(Application(f"app-{len(apps)}", kind, now - timedelta(minutes=rng.randint(1, 15))))
    return Situation(
        protocol=PROTOCOL,
        onset=onset,
        patient=patient,
        now=now,
        applications=tuple(apps),
        rests=tuple(sorted(rests, key=lambda r: r.start)),
        intakes=tuple(sorted(intakes, key=lambda i: i.at)),
        checkins=tuple(sorted(checkins, key=lambda c: c.at)),
        walks=tuple(walks),
    )


def as_document(s: Situation) -> dict:
    """The history as plain data, as the API would store or return it (built before timing)."""

    def iso(at):
        return at.isoformat() if at else None

    return {
        "onset": iso(s.onset),
        "zone": s.patient.zone.key,
        "sleep": [s.patient.sleep_start.isoformat(), s.patient.sleep_end.isoformat()],
        "applications": [
            {"key": a.key, "kind": a.kind, "start": iso(a.start), "stop": iso(a.stop), "auto_closed": a.auto_closed}
            for a in s.applications
        ],
        "rests": [{"start": iso(r.start), "stop": iso(r.stop)} for r in s.rests],
        "intakes": [{"class": i.med_class, "at": iso(i.at)} for i in s.intakes],
        "checkins": [{"at": iso(c.at), "pain": c.pain} for c in s.checkins],
        "walks": [
            {"at": iso(w.at), "minutes": w.minutes, "before": w.pain_before, "after": w.pain_after} for w in s.walks
        ],
    }


def fixed_grid(s: Situation) -> list[tuple[str, datetime]]:
    """A trivial planner: one start reminder a pause after the last stop, out of the sleep window."""
    p = s.patient
    out = []
    last = s.applications[-1] if s.applications else None
    if last is None:
        due = s.onset
    elif last.stop is None:
        out.append(("remove", last.start + timedelta(minutes=20)))
        due = last.start + timedelta(minutes=110)
    else:
        due = last.stop + timedelta(minutes=90)
    out.append(("start", out_of_window(due, p.zone, p.sleep_start, p.sleep_end)))
    return out


def timed(fn, items) -> list[int]:
    """Nanoseconds per call, one call at a time (the GC paused, as it would be a few calls apart)."""
    out = []
    perf = clock.perf_counter_ns
    gc.disable()
    try:
        for item in items:
            t0 = perf()
            fn(item)
            out.append(perf() - t0)
    finally:
        gc.enable()
    return out


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    t0 = clock.perf_counter()
    situations = [build_episode(rng) for _ in range(args.episodes)]
    documents = [as_document(s) for s in situations]
    build_s = clock.perf_counter() - t0
    apps = statistics.mean(len(s.applications) for s in situations)
    events = statistics.mean(
        len(s.applications) + len(s.rests) + len(s.intakes) + len(s.checkins) + len(s.walks) for s in situations
    )
    print(f"built {args.episodes} situations in {build_s:.1f} s: {apps:.1f} applications, {events:.1f} events each")

    # Warm-up (imports, zoneinfo caches), not counted.
    for s in situations[:500]:
        plan(s)
        fixed_grid(s)
    for d in documents[:500]:
        json.dumps(d)

    plan_ns = timed(plan, situations)
    dumps_ns = timed(json.dumps, documents)
    grid_ns = timed(fixed_grid, situations)
    reminders = statistics.mean(len(plan(s).reminders) for s in situations[:1000])

    total_s = sum(plan_ns) / 1e9
    rows = [
        ("plan()", plan_ns),
        ("baseline json_dumps (same history)", dumps_ns),
        ("baseline fixed_grid (trivial planner)", grid_ns),
    ]
    print()
    print(f"{'what':<40} {'episodes':>9} {'total s':>8} {'per s':>10} {'mean us':>8} {'p50 us':>8} {'p95 us':>8}")
    for name, ns in rows:
        total = sum(ns) / 1e9
        print(
            f"{name:<40} {len(ns):>9} {total:>8.3f} {len(ns) / total:>10.0f} "
            f"{statistics.mean(ns) / 1000:>8.1f} {pct(ns, 0.5):>8.1f} {pct(ns, 0.95):>8.1f}"
        )
    p50, dumps_p50, grid_p50 = pct(plan_ns, 0.5), pct(dumps_ns, 0.5), pct(grid_ns, 0.5)
    print(
        f"\nplan() p50 is {p50 / dumps_p50:.1f}x json.dumps of the same history and "
        f"{p50 / grid_p50:.0f}x the trivial planner; {reminders:.1f} reminders per plan."
    )
    result = {
        "episodes": args.episodes,
        "applications_per_episode": round(apps, 1),
        "events_per_episode": round(events, 1),
        "total_s": round(total_s, 4),
        "plans_per_s": round(len(plan_ns) / total_s, 1),
        "us_per_plan_mean": round(statistics.mean(plan_ns) / 1000, 2),
        "us_per_plan_p50": round(p50, 2),
        "us_per_plan_p95": round(pct(plan_ns, 0.95), 2),
        "baseline_json_dumps_us_p50": round(dumps_p50, 2),
        "baseline_json_dumps_us_p95": round(pct(dumps_ns, 0.95), 2),
        "baseline_fixed_grid_us_p50": round(grid_p50, 2),
        "baseline_fixed_grid_us_p95": round(pct(grid_ns, 0.95), 2),
        "plan_over_json_dumps_p50": round(p50 / dumps_p50, 2),
        "plan_over_fixed_grid_p50": round(p50 / grid_p50, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
