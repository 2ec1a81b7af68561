"""The questionnaire engine, pure (no database): scoring and reminder planning per second.

    .venv/bin/python bench/outcomes.py [--seconds 1.0]

Scores random complete responses of each instrument (PEG, STarT Back, Oswestry with one section skipped) and plans
the questionnaire reminders of an episode at a random instant in its first 12 weeks (all three offered, a PEG
answered every week so far): the work every re-plan of an episode adds to the protocol's. Prints a table, then as
the last line a JSON object of numbers (operations per second and microseconds per operation).
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recovery.outcomes.engine import Situation, questionnaire_from_dict, questionnaires_due, score  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "recovery" / "data" / "questionnaires"


def load(code: str):
    return questionnaire_from_dict(json.loads((DATA / f"{code}.json").read_text()))


def answers(q, rng: random.Random) -> dict:
    out = {}
    for item in q.items:
        out[item.id] = rng.randint(item.low, item.high) if item.kind == "scale" else rng.choice(item.options).code
    if q.code == "odi":
        out["sex_life"] = None
    return out


def rate(work, seconds: float) -> tuple[float, float]:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            work()
        count += 200
    return count / elapsed, elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    rng = random.Random(17)
    peg, startback, odi = load("peg"), load("startback"), load("odi")
    results = {}
    for q in (peg, startback, odi):
        samples = [answers(q, rng) for _ in range(500)]
        index = iter(range(10**12))
        results[f"score_{q.code}"] = rate(lambda q=q, s=samples, i=index: score(q, s[next(i) % 500]), args.seconds)
    onset = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    zone = ZoneInfo("Europe/Berlin")

    def plan_once():
        now = onset + timedelta(hours=rng.randint(0, 84 * 24))
        weeks = (now - onset).days // 7
        situation = Situation(
            onset=onset,
            zone=zone,
            now=now,
            offered=(peg, startback, odi),
            answered={"peg": tuple(onset + timedelta(days=7 * k, hours=2) for k in range(weeks))},
        )
        questionnaires_due(situation)

    results["plan_reminders"] = rate(plan_once, args.seconds)
    print(f"{'operation':<18} {'per second':>12} {'us each':>10}")
    for name, (per_second, micros) in results.items():
        print(f"{name:<18} {per_second:>12.0f} {micros:>10.1f}")
    flat = {}
    for name, (per_second, micros) in results.items():
        flat[f"{name}_per_s"] = round(per_second)
        flat[f"{name}_us"] = round(micros, 1)
    print(json.dumps(flat))


if __name__ == "__main__":
    main()
