"""Re-planning cost with a small and a huge history, in the same run, against a trivial read.

    .venv/bin/python bench/replan.py [--rounds 60] [--db backcare_bench_replan]

Every treatment write re-plans the episode (recovery.reminders.planning.replans_episode): the engine's input is
read by recovery.treatment.selectors.episode_situation. This bench shows whether that cost grows with the
history. Steps: drop and recreate the database `backcare_bench_replan`, migrate it and load the content (bench
settings: bench/support/settings.py; REDIS_URL as given), then in one process (bench/support/replan_run.py)
seed two patients on the same 320-day episode, `small` (5 applications, a few check-ins, rests and intakes) and
`huge` (5,000 applications, a check-in a day, 30 rest periods, 60 intakes), and time, round after round in
alternating order, for each:

    start          PUT  /api/applications/<uuid>/       {"kind": "heat"}  -> 201  (re-plans)
    stop           POST /api/applications/<uuid>/stop/  {}                -> 200  (re-plans)
    baseline_get   GET  /api/applications/<existing>/                     -> 200  (one row, no re-plan)

Requests go through Django's test client in-process (no gunicorn: the point is the server's work per request,
not the network), with the number of SQL queries of each. Prints a table, the huge/small ratios, and as the last
line one JSON object of numbers. The target (huge start p95 within 1.5x of small's, same query count) is
reported, not enforced: absolute figures move with the shared machine's load, the ratio much less.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import harness  # noqa: E402

SCENARIOS = ("start", "stop", "baseline_get")
RATIO_TARGET = 1.5


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--db", default="backcare_bench_replan")
    args = parser.parse_args()
    harness.reset_database(args.db)
    harness.manage(args.db, "migrate", "--noinput")
    harness.manage(args.db, "load_content")
    done = subprocess.run(
        [str(harness.BIN / "python"), "-m", "bench.support.replan_run", "--rounds", str(args.rounds)],
        cwd=harness.ROOT,
        env=harness.bench_env(args.db),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        print(done.stdout[-3000:], file=sys.stderr)
        return 1
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    samples, queries = measured["samples"], measured["queries"]

    print(f"{'history':<8} {'request':<14} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    result: dict[str, float | int] = {"rounds": args.rounds}
    for history in ("small", "huge"):
        for scenario in SCENARIOS:
            key = f"{history}_{scenario}"
            values = samples[key]
            p50, p95 = pct(values, 0.5), pct(values, 0.95)
            print(f"{history:<8} {scenario:<14} {len(values):>4} {p50:>8.1f} {p95:>8.1f} {queries[key]:>8}")
            result[f"{key}_p50_ms"] = round(p50, 2)
            result[f"{key}_p95_ms"] = round(p95, 2)
            result[f"{key}_queries"] = queries[key]
    print()
    for scenario in ("start", "stop"):
        ratio = pct(samples[f"huge_{scenario}"], 0.95) / pct(samples[f"small_{scenario}"], 0.95)
        over = pct(samples[f"small_{scenario}"], 0.95) / pct(samples["small_baseline_get"], 0.95)
        result[f"{scenario}_p95_ratio_huge_vs_small"] = round(ratio, 3)
        result[f"{scenario}_small_p95_vs_baseline"] = round(over, 3)
        same = queries[f"huge_{scenario}"] == queries[f"small_{scenario}"]
        verdict = "ok" if ratio <= RATIO_TARGET and same else "MISSED"
        print(
            f"{scenario}: huge/small p95 {ratio:.2f}x (target <= {RATIO_TARGET}x), queries "
            f"{queries[f'small_{scenario}']} vs {queries[f'huge_{scenario}']}: {verdict}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
