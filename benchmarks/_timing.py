"""Small timing helpers shared by the ratio benchmarks.

A benchmark here never asserts an absolute time: it measures our code and a reference (or a
physical limit) in the same run and reports the ratio, which transfers across machines.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def best_time(fn, *, repeat: int = 5, min_seconds: float = 0.2) -> float:
    """Best wall time of one call of ``fn`` over ``repeat`` rounds (each round >= ``min_seconds``).

    The minimum is the estimate least polluted by other processes on a shared machine.
    """
    fn()  # warm-up: numba compilation, caches
    best = float("inf")
    for _ in range(repeat):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


def interleaved_best_times(fns, *, rounds: int = 9, min_seconds: float = 0.1) -> list[float]:
    """Best per-call time of each function, timed in alternation round after round.

    Ratios of functions timed back to back suffer from load that comes and goes; alternating
    them exposes every function to the same conditions, and the minimum over rounds keeps the
    least disturbed measurement of each.
    """
    for fn in fns:
        fn()  # warm-up
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            calls, start = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_seconds:
                    break
            best[i] = min(best[i], elapsed / calls)
    return best


def report(title: str, rows: list[dict], out: str | None = None) -> None:
    """Print benchmark rows (name, measured, target, ok) and optionally append them as JSON."""
    print(f"\n== {title}")
    for row in rows:
        status = "ok " if row["ok"] else "MISS"
        print(f"  [{status}] {row['name']}: {row['measured']}  (target {row['target']})")
    if out:
        path = Path(out)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing[title] = rows
        path.write_text(json.dumps(existing, indent=2))
