"""Shared pytest configuration: derandomised hypothesis profiles and shared quick-budget runs.

Profiles: ``ci`` (default; derandomised, modest example counts) and ``full`` (more examples),
selected with ``HYPOTHESIS_PROFILE=full``.

Fixture ``quick_sweep``: the claims tests read their quick-budget runs and verdicts from stores
shared by the whole session, each run computed once on a pool of worker processes. A test module
that uses it names its claim family in ``QUICK_FAMILY``; the quick budgets of the selected families
are then computed in a background process from the end of collection on, and the modules using them
run last, so the sweeps overlap the single-core tests instead of following them
(``PROOFS_CHECK_TEST_PREFETCH=0`` turns the background process off; the results are the same).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

from proofs_check import ResultStore, run_claims
from proofs_check.runner import make_executor

settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "full", derandomize=False, max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))




# --------------------------------------------------------------------------- shared quick-budget runs
#: Worker processes of every quick-budget sweep. Runs are bit-identical whatever the executor (the
#: seed of a run is a hash of claim, parameters and seed index), so the tests see exactly the runs
#: an inline sweep would give.
QUICK_WORKERS = 2

#: Background sweep: computes the quick budget of each family into ``<base>/<family>`` (one
#: ResultStore per family, closed before ``<base>/<family>.done`` is written), in the given order.
_PREFETCH = """
import sys
from pathlib import Path
from threadpoolctl import threadpool_limits
from proofs_check import ResultStore, load_claims, run_claims
from proofs_check.runner import make_executor
base, workers, families = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
registered = load_claims(use_entry_points=False).values()
for family in families:
    claims = [c for c in registered if c.family == family]
    with threadpool_limits(limits=1), ResultStore(base / family) as store, make_executor(workers) as pool:
        run_claims(claims, store=store, budget="quick", executor=pool)
    (base / (family + ".done")).touch()
"""


class _Prefetch:
    """The background sweep of one session (``process`` is None when there is none)."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="quick_runs_"))
        self.families: list = []
        self.process = None
        self.log = self.base / "prefetch.log"

    def start(self, families):
        self.families = list(families)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _PREFETCH, str(self.base), str(QUICK_WORKERS), *self.families],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(self, family) -> None:
        """Block until the background sweep has stored ``family`` (or has stopped without it)."""
        if self.process is None or family not in self.families:
            return
        done = self.base / (family + ".done")
        while not done.exists() and self.process.poll() is None:
            time.sleep(0.2)
        if not done.exists():
            tail = self.log.read_text(errors="replace")[-2000:]
            warnings.warn(f"background quick sweep stopped before {family} (exit {self.process.returncode}); "
                          f"computing it in the test process instead. Its output:\n{tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)   # its own process group: it and its workers
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


_prefetch_key = pytest.StashKey[_Prefetch]()


def _uses_quick_sweep(item) -> bool:
    return "quick_sweep" in getattr(item, "fixturenames", ())


def _quick_modules(items) -> list:
    """Modules (in order) holding at least one selected test that uses ``quick_sweep``."""
    seen = []
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module not in seen and _uses_quick_sweep(item):
            seen.append(module)
    return seen


def pytest_collection_modifyitems(session, config, items):
    """Run the modules using the shared quick sweeps last (their relative order is kept)."""
    modules = set(_quick_modules(items))
    items[:] = ([i for i in items if getattr(i, "module", None) not in modules]
                + [i for i in items if getattr(i, "module", None) in modules])


def pytest_collection_finish(session):
    """Start the background sweep of the families the selected tests need."""
    config = session.config
    prefetch = _Prefetch()
    config.stash[_prefetch_key] = prefetch
    modules = _quick_modules(session.items)
    families = list(dict.fromkeys(f for f in (getattr(m, "QUICK_FAMILY", None) for m in modules) if f))
    # Only worth a second interpreter (~3 CPU-s of imports) when other tests run meanwhile.
    overlapped = any(getattr(item, "module", None) not in modules for item in session.items)
    if (families and overlapped and not config.option.collectonly
            and os.environ.get("PROOFS_CHECK_TEST_PREFETCH", "1") != "0"):
        prefetch.start(families)


def pytest_unconfigure(config):
    prefetch = config.stash.get(_prefetch_key, None)
    if prefetch is not None:
        prefetch.stop()


@pytest.fixture(scope="session")
def quick_sweep(pytestconfig):
    """``quick_sweep(claims) -> SweepReport``: the quick budget of ``claims`` (one family), computed once.

    The runs of a family live in one store for the whole session (filled by the background sweep
    when it covers the family); a call reuses every stored run and computes only what is missing,
    on ``QUICK_WORKERS`` processes. A repeated call with the same claims returns the same report
    object, so callers must treat it as read-only. Nothing of a family is computed unless a
    selected test asks for it.
    """
    prefetch = pytestconfig.stash[_prefetch_key]
    reports: dict = {}

    def sweep(claims):
        claims = list(claims)
        families = {claim.family for claim in claims}
        if len(families) != 1:
            raise ValueError(f"quick_sweep takes the claims of one family, got families {sorted(families)}")
        (family,) = families
        key = tuple(claim.id for claim in claims)
        if key not in reports:
            prefetch.wait_for(family)
            # One BLAS thread: the verdicts' bootstraps run here, and the workers set the same limit
            # (nested BLAS threads oversubscribe 2 cores).
            with threadpool_limits(limits=1), ResultStore(prefetch.base / family) as store, \
                    make_executor(QUICK_WORKERS) as executor:
                reports[key] = run_claims(claims, store=store, budget="quick", executor=executor)
        return reports[key]

    return sweep
