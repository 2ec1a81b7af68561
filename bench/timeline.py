"""The physiotherapist's reads under concurrent load, through gunicorn and PostgreSQL, against their SQL floor.

    .venv/bin/python bench/timeline.py [--rounds 4] [--duration 2] [--concurrency 4] [--workers 2] [--threads 4]

Steps: drop and recreate the database `backcare_bench_timeline`, migrate it and load the content (bench
settings: bench/support/settings.py); seed (bench/support/timeline_seed.py) one physiotherapist linked to
500 patients, one of them dense (90 days: 3 check-ins a day, every ice and heat application, every
reminder), the others with 1-21 days of the same kinds of data; ANALYZE; start gunicorn (gthread) on a free
port; count the queries of each read in-process, twice (bench/support/timeline_queries.py: the triage's first
request computes and stores every patient's summary, the second reads them); then measure five scenarios,
interleaved over several rounds in alternating order so drift and noise hit each alike:

    timeline              GET /api/physio/patients/<dense>/timeline/  (page of 50, written to the access log)
    timeline_floor        GET /bench/baseline/timeline/<dense>/        (the same 50 rows, one raw SQL query)
    triage                GET /api/physio/patients/                    (500 patients ranked, first page of 50:
                                                                        stored summaries, ranked in SQL)
    triage_floor          GET /bench/baseline/triage/                  (the same 500 rows from the data, one query)
    triage_summary_floor  GET /bench/baseline/triage-summaries/        (the 500 stored summaries, one query)

The floors are plain Django views (bench/support/timeline_baseline.py): token check, one hand-written
query, JSON. A warm-up round (1 s per scenario) runs first and is not counted. Clients: a separate process
(bench/support/loadgen.py), one keep-alive connection per thread.

Prints a table (requests, req/s, p50, p95, errors, queries per request), the ratios of p95 to the floor's
and the targets, then as the last line one JSON object of numbers (timeline_p95_ms,
timeline_ratio_vs_floor, triage_p95_ms, triage_queries (the larger of the cold and warm counts),
triage_cold_ms, triage_ratio_vs_summary_floor, ...). Exits 1 if any request failed; the targets
(timeline p95 < 50 ms and within 3x of its floor; triage p95 < 150 ms in at most 10 queries) are
reported, not enforced: on a shared 2-core machine the absolute figures move with everything else that
runs, the ratios to the floor measured in the same run much less.
"""

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import harness  # noqa: E402

HOST = "127.0.0.1"
TARGETS = {"timeline_p95_ms": 50.0, "timeline_ratio_vs_floor": 3.0, "triage_p95_ms": 150.0, "triage_queries": 10}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def scenarios(dense: int) -> list[tuple[str, str]]:
    return [
        ("timeline", f"/api/physio/patients/{dense}/timeline/"),
        ("timeline_floor", f"/bench/baseline/timeline/{dense}/"),
        ("triage", "/api/physio/patients/"),
        ("triage_floor", "/bench/baseline/triage/"),
        ("triage_summary_floor", "/bench/baseline/triage-summaries/"),
    ]


def run_module(db: str, module: str, *args: str, stdin: str | None = None) -> dict:
    done = subprocess.run(
        [str(harness.BIN / "python"), "-m", module, *args],
        cwd=harness.ROOT,
        env=harness.bench_env(db),
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_floor_matches(port: int, token: str, dense: int) -> None:
    """The floor must return the rows the API returns, or the comparison means nothing."""
    _, api = harness.request(HOST, port, "GET", f"/api/physio/patients/{dense}/timeline/", token=token)
    _, floor = harness.request(HOST, port, "GET", f"/bench/baseline/timeline/{dense}/", token=token)
    key = [(row["kind"], row["ref"]) for row in api["results"]]
    if key != [(row["kind"], row["ref"]) for row in floor["results"]] or len(key) != 50:
        raise RuntimeError("the timeline floor returns other rows than GET /api/physio/patients/<id>/timeline/")
    _, api = harness.request(HOST, port, "GET", "/api/physio/patients/?limit=200", token=token)
    _, floor = harness.request(HOST, port, "GET", "/bench/baseline/triage/", token=token)
    _, stored = harness.request(HOST, port, "GET", "/bench/baseline/triage-summaries/", token=token)
    if floor["count"] != 500 or stored["count"] != 500 or len(api["results"]) != 200 or not api["next"]:
        raise RuntimeError(f"the triage and its floors disagree on the patients: {floor['count']}, {stored['count']}")


def measure(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    harness.reset_database(args.db)
    log(f"database {args.db}: migrating, loading content")
    harness.manage(args.db, "migrate", "--noinput")
    harness.manage(args.db, "load_content")
    started = time.monotonic()
    seeded = run_module(args.db, "bench.support.timeline_seed", "--patients", str(args.patients))
    log(f"seeded in {time.monotonic() - started:.0f} s: {seeded['rows']}; dense patient {seeded['dense']}")
    harness.db_query(args.db, "ANALYZE")
    token, dense = seeded["physio_token"], seeded["dense_patient_id"]
    plan = scenarios(dense)
    paths = {name: [path, token] for name, path in plan}
    queries = run_module(args.db, "bench.support.timeline_queries", stdin=json.dumps({"paths": paths, "repeat": 3}))
    for name, counted in queries.items():
        if counted["status"] != 200:
            raise RuntimeError(f"{name}: {counted['status']}")

    with harness.gunicorn(args.db, workers=args.workers, threads=args.threads) as (port, master):
        log(f"gunicorn on :{port} ({args.workers} workers x {args.threads} threads, gthread)")
        check_floor_matches(port, token, dense)
        totals = {
            name: {"latencies": [], "errors": 0, "seconds": 0.0, "samples": [], "round_p95": [], "served": 0}
            for name, _ in plan
        }
        for round_no in range(-1, args.rounds):
            order = plan if round_no % 2 == 0 else list(reversed(plan))
            for name, path in order:
                spec = {
                    "host": HOST,
                    "port": port,
                    "concurrency": args.concurrency,
                    "warmup": args.warmup,
                    "duration": (1.0 if round_no < 0 else args.duration) * (2 if name.startswith("triage") else 1),
                    "method": "GET",
                    "path": path,
                    "body": None,
                    "expect": 200,
                    "tokens": [token],
                }
                result = harness.run_phase(spec)
                if round_no < 0:
                    if result["errors"]:
                        raise RuntimeError(f"warm-up of {name} failed: {result['error_samples']}")
                    continue
                total = totals[name]
                total["latencies"] += result["latencies_ms"]
                total["errors"] += result["errors"]
                total["seconds"] += result["seconds"]
                total["samples"] += result["error_samples"]
                total["served"] += result["served"]
                total["round_p95"].append(harness.percentile(result["latencies_ms"], 0.95))
                log(
                    f"round {round_no + 1}/{args.rounds} {name:15} "
                    f"{result['requests'] / result['seconds']:7.1f} req/s  "
                    f"p95 {harness.percentile(result['latencies_ms'], 0.95):7.1f} ms  errors {result['errors']}"
                )
    return totals, queries, seeded


def report(totals: dict, queries: dict, seeded: dict, args: argparse.Namespace) -> int:
    stats = {}
    for name, total in totals.items():
        lat = total["latencies"]
        stats[name] = {
            "requests": len(lat),
            "rps": len(lat) / total["seconds"] if total["seconds"] else 0.0,
            "p50": harness.percentile(lat, 0.50),
            "p95": harness.percentile(lat, 0.95),
            "errors": total["errors"],
            "queries": queries[name]["queries"],
            "queries_again": queries[name]["queries_again"],
            "inprocess_ms": queries[name]["ms_min"],
            "first_ms": queries[name]["ms_first"],
        }
    print(
        f"{'scenario':22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'queries':>9}"
        f"{'1 req ms':>10}{'first ms':>10}"
    )
    for name, row in stats.items():
        queries_shown = (
            f"{row['queries']}/{row['queries_again']}" if row["queries"] != row["queries_again"] else row["queries"]
        )
        print(
            f"{name:22}{row['requests']:>10}{row['rps']:>9.1f}{row['p50']:>9.2f}{row['p95']:>9.2f}{row['errors']:>8}"
            f"{queries_shown:>9}{row['inprocess_ms']:>10.2f}{row['first_ms']:>10.2f}"
        )
    print("queries a/b: the first request (the triage computes every summary) / the next (it reads them)")
    ratios, medians = {}, {}
    for kind in ("timeline", "triage"):
        floor = stats[f"{kind}_floor"]
        ratios[kind] = stats[kind]["p95"] / floor["p95"] if floor["p95"] else 0.0
        paired = [
            a / b
            for a, b in zip(totals[kind]["round_p95"], totals[f"{kind}_floor"]["round_p95"], strict=True)
            if a and b
        ]
        medians[kind] = statistics.median(paired) if paired else 0.0
    out = {
        "timeline_p95_ms": round(stats["timeline"]["p95"], 2),
        "timeline_p50_ms": round(stats["timeline"]["p50"], 2),
        "timeline_rps": round(stats["timeline"]["rps"], 1),
        "timeline_queries": stats["timeline"]["queries"],
        "timeline_floor_p95_ms": round(stats["timeline_floor"]["p95"], 2),
        "timeline_floor_p50_ms": round(stats["timeline_floor"]["p50"], 2),
        "timeline_floor_rps": round(stats["timeline_floor"]["rps"], 1),
        "timeline_ratio_vs_floor": round(ratios["timeline"], 3),
        "timeline_ratio_median_round": round(medians["timeline"], 3),
        "triage_p95_ms": round(stats["triage"]["p95"], 2),
        "triage_p50_ms": round(stats["triage"]["p50"], 2),
        "triage_rps": round(stats["triage"]["rps"], 1),
        "triage_queries": max(stats["triage"]["queries"], stats["triage"]["queries_again"]),
        "triage_queries_cold": stats["triage"]["queries"],
        "triage_queries_warm": stats["triage"]["queries_again"],
        "triage_cold_ms": round(stats["triage"]["first_ms"], 2),
        "triage_warm_ms": round(stats["triage"]["inprocess_ms"], 2),
        "triage_summary_floor_p95_ms": round(stats["triage_summary_floor"]["p95"], 2),
        "triage_summary_floor_p50_ms": round(stats["triage_summary_floor"]["p50"], 2),
        "triage_summary_floor_rps": round(stats["triage_summary_floor"]["rps"], 1),
        "triage_ratio_vs_summary_floor": round(
            stats["triage"]["p95"] / stats["triage_summary_floor"]["p95"]
            if stats["triage_summary_floor"]["p95"]
            else 0.0,
            3,
        ),
        "triage_floor_p95_ms": round(stats["triage_floor"]["p95"], 2),
        "triage_floor_p50_ms": round(stats["triage_floor"]["p50"], 2),
        "triage_floor_rps": round(stats["triage_floor"]["rps"], 1),
        "triage_ratio_vs_floor": round(ratios["triage"], 3),
        "triage_ratio_median_round": round(medians["triage"], 3),
        "triage_patients": args.patients,
        "dense_checkins": seeded["dense"]["checkins"],
        "dense_applications": seeded["dense"]["applications"],
        "dense_reminders": seeded["dense"]["reminders"],
        "errors": sum(row["errors"] for row in stats.values()),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "threads": args.threads,
        "seconds_per_timeline_scenario": round(args.rounds * args.duration, 1),
    }
    verdicts = {
        "timeline_p95_ms": out["timeline_p95_ms"] < TARGETS["timeline_p95_ms"],
        "timeline_ratio_vs_floor": out["timeline_ratio_vs_floor"] <= TARGETS["timeline_ratio_vs_floor"],
        "triage_p95_ms": out["triage_p95_ms"] < TARGETS["triage_p95_ms"],
        "triage_queries": out["triage_queries"] <= TARGETS["triage_queries"],
    }
    for key, ok in verdicts.items():
        print(f"{key}: {out[key]} ({'meets' if ok else 'MISSES'} target {TARGETS[key]})")
        out[f"{key}_meets_target"] = int(ok)
    print(f"p95 ratio per round: timeline {medians['timeline']:.2f} (median), triage {medians['triage']:.2f} (median)")
    for name, total in totals.items():
        for sample in total["samples"]:
            print(f"error in {name}: {sample}", file=sys.stderr)
    print(json.dumps(out))
    return 1 if out["errors"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="backcare_bench_timeline", help="database to drop, recreate and use")
    parser.add_argument("--patients", type=int, default=500, help="patients linked to the physiotherapist")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds over the four scenarios")
    parser.add_argument(
        "--duration", type=float, default=2.0, help="measured seconds per scenario per round (triage: twice that)"
    )
    parser.add_argument("--warmup", type=float, default=0.4, help="unmeasured seconds before each phase")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    totals, queries, seeded = measure(args)
    return report(totals, queries, seeded, args)


if __name__ == "__main__":
    sys.exit(main())
