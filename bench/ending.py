"""Cost of a plan that ends (recovery/protocol/ending.py) inside `engine.plan()`, on the histories of bench/protocol.py.

    .venv/bin/python bench/ending.py [--episodes 3000] [--seed 7]

The same 72 h histories as bench/protocol.py, each planned four ways, one call at a time:
  v1_default       protocol v1 fields, no preference (start reminders cut at the day-14 review: one comparison)
  heat_3_a_day     the patient's preference of 3 heat reminders a day (waking-day slots instead of the chain)
  good_days        the same history plus two good days of check-ins (the plan_end reminder is planned)
  day_20           `now` moved to day 20: after the heat phase, only reviews and check-ins are left

Prints a table, then as the last line one JSON object of numbers.
"""

import argparse
import dataclasses
import json
import random
import statistics
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.protocol import build_episode, pct, timed  # noqa: E402
from recovery.protocol.engine import PainPoint, plan  # noqa: E402


def with_good_days(s):
    last = s.now - timedelta(hours=1)
    good = (PainPoint(last - timedelta(days=1), 2), PainPoint(last, 1))
    return dataclasses.replace(s, checkins=good)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = [build_episode(rng) for _ in range(args.episodes)]
    variants = {
        "v1_default": base,
        "heat_3_a_day": [
            dataclasses.replace(s, patient=dataclasses.replace(s.patient, heat_reminders_per_day=3)) for s in base
        ],
        "good_days": [with_good_days(s) for s in base],
        "day_20": [dataclasses.replace(s, now=s.onset + timedelta(days=19, hours=3)) for s in base],
    }
    for situations in variants.values():  # warm-up, not counted
        for s in situations[:300]:
            plan(s)
    timings = {name: timed(plan, situations) for name, situations in variants.items()}
    proposals = sum(any(r.kind == "plan_end" for r in plan(s).reminders) for s in variants["good_days"])
    heat_after = sum(any(r.kind.endswith("_start") for r in plan(s).reminders) for s in variants["day_20"])

    print(f"{'variant':<14} {'plans':>7} {'mean us':>8} {'p50 us':>8} {'p95 us':>8}")
    for name, ns in timings.items():
        print(f"{name:<14} {len(ns):>7} {statistics.mean(ns) / 1000:>8.1f} {pct(ns, 0.5):>8.1f} {pct(ns, 0.95):>8.1f}")
    print(
        f"\nplan_end planned in {proposals} of {args.episodes} good-day plans; start reminders at day 20: {heat_after}"
    )
    result = {"episodes": args.episodes, "plan_end_planned": proposals, "starts_at_day_20": heat_after}
    for name, ns in timings.items():
        result[f"{name}_us_p50"] = round(pct(ns, 0.5), 2)
        result[f"{name}_us_p95"] = round(pct(ns, 0.95), 2)
    result["heat_3_a_day_over_default_p50"] = round(
        pct(timings["heat_3_a_day"], 0.5) / pct(timings["v1_default"], 0.5), 3
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
