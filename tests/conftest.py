"""Shared pytest configuration: derandomised hypothesis profiles and shared quick-budget runs.

Profiles: ``ci`` (default; derandomised, modest example counts) and ``full`` (more examples),
selected with ``HYPOTHESIS_PROFILE=full``.

Fixture ``quick_sweep``: the claims tests read their quick-budget runs and verdicts from one
session-wide store, each run computed once on a pool of worker processes.
"""
import os

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
#: Worker processes for the shared quick-budget sweeps. Runs are bit-identical whatever the
#: executor (the seed of a run is a hash of claim, parameters and seed index), so the tests see
#: exactly the runs an inline sweep would give.
QUICK_WORKERS = 2


@pytest.fixture(scope="session")
def quick_sweep(tmp_path_factory):
    """``quick_sweep(claims) -> SweepReport``: the quick budget of ``claims``, each run computed once.

    Every run goes into one session-wide :class:`~proofs_check.store.ResultStore`; a later call
    for claims whose runs are already stored reuses them (only the verdicts are recomputed), and a
    repeated call with the same claims returns the same report object. Nothing is computed before a
    test asks for it, so ``pytest tests/test_claims_nash.py`` sweeps only the nash claims.
    Callers must treat the report as read-only: other tests share it.
    """
    store = ResultStore(tmp_path_factory.mktemp("quick_runs"))
    reports: dict = {}

    def sweep(claims):
        key = tuple(claim.id for claim in claims)
        if key not in reports:
            # One BLAS thread: the verdicts' bootstraps run here while nothing else is computing,
            # and the workers set the same limit (nested BLAS threads oversubscribe 2 cores).
            with threadpool_limits(limits=1), make_executor(QUICK_WORKERS) as executor:
                reports[key] = run_claims(list(claims), store=store, budget="quick", executor=executor)
        return reports[key]

    yield sweep
    store.close()
