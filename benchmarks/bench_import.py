"""Start-up cost in cold processes (issue "daily tool", item 8).

Run: ``python benchmarks/bench_import.py [--runs 11] [--json results.json]``

Each command runs ``--runs`` times as a fresh interpreter, the commands interleaved round after
round so load that comes and goes hits all of them alike; the median wall time of each is
reported, next to the interpreter's own start-up (``python -c pass``) measured the same way, so
``median - floor`` is what the import itself costs. Targets (medians): ``import mdpkit`` <= 0.4 s,
``proofs-check --help`` <= 1 s. Also reported (informative): the first use of the numba solver
(``mdpkit.solve`` pulls in numba and the cached kernels) and ``import cvxpy``/``import
matplotlib.pyplot``, which ``import mdpkit`` used to pay for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _timing import report  # noqa: E402


def commands() -> dict[str, list[str]]:
    cli = shutil.which("proofs-check")
    help_command = [cli, "--help"] if cli else [sys.executable, "-m", "proofs_check.cli", "--help"]
    python = [sys.executable, "-c"]
    return {
        "python -c pass (interpreter floor)": python + ["pass"],
        "import mdpkit": python + ["import mdpkit"],
        "proofs-check --help": help_command,
        "import mdpkit; mdpkit.solve (numba loaded)": python + ["import mdpkit; mdpkit.solve"],
        "import cvxpy (reference)": python + ["import cvxpy"],
        "import matplotlib.pyplot (reference)": python + ["import matplotlib.pyplot"],
    }


def cold_medians(cmds: dict[str, list[str]], runs: int) -> dict[str, float]:
    times = {name: [] for name in cmds}
    for name, cmd in cmds.items():  # warm the OS file cache and numba's on-disk cache once
        subprocess.run(cmd, check=True, capture_output=True)
    for _ in range(runs):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", help="append results to this JSON file")
    args = parser.parse_args(argv)
    medians = cold_medians(commands(), args.runs)
    floor = medians["python -c pass (interpreter floor)"]
    targets = {"import mdpkit": 0.4, "proofs-check --help": 1.0}
    rows = []
    for name, median in medians.items():
        target = targets.get(name)
        rows.append({"name": name, "measured": f"{median:.3f} s median (import cost {median - floor:+.3f} s)",
                     "target": f"<= {target} s" if target else "informative",
                     "ok": target is None or median <= target})
    report(f"cold-process start-up, median of {args.runs}", rows, args.json)


if __name__ == "__main__":
    main()
