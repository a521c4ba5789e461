"""Stored payloads are byte-identical whatever executor computed them: in-process (``--workers 1``),
a process pool (``--workers 2``) and Dask worker processes.

A multi-threaded BLAS splits a dot product or a matrix product across threads and adds the
partial results in another order than a single thread does, so without one BLAS thread in every
executor path the in-process runs differ from the pool's in the last bits. The claims here use
BLAS: a synthetic one sized so that OpenBLAS does split it (checked below, so this test can fail),
and real claims at a reduced grid.
"""
import dataclasses
import os

import numpy as np
import pytest

from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, ResultStore, Sweep, run_claims
from proofs_check.runner import InlineExecutor, make_executor

#: Sizes above OpenBLAS's threading thresholds (a dot product splits above 10,000 entries).
N_DOT, N_MATRIX = 400_000, 300


def _blas_reductions(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(N_DOT), rng.standard_normal(N_DOT)
    a, b = rng.standard_normal((N_MATRIX, N_MATRIX)), rng.standard_normal((N_MATRIX, N_MATRIX))
    return {"dot": np.float64(x @ y) / N_DOT, "product_sum": np.float64((a @ b).sum()) / N_MATRIX ** 3}


def observe_blas_reductions(params, seed):
    """A dot product and a matrix product large enough to be split across BLAS threads."""
    return _blas_reductions(seed)


def derive_inflated(observed):
    return {k: v + 1.0 for k, v in observed.items()}


BLAS_CLAIM = Claim(
    id="identity.blas_reductions", paper=Paper("Synthetic (tests)"),
    statement="A scaled dot product of standard normal vectors is below 0.01.",
    provenance=Provenance("reconstructed", "Synthetic claim exercising multi-threaded BLAS paths."),
    observe=observe_blas_reductions,
    sweep=Sweep(Grid(i=[0, 1]), Grid(i=[0, 1]), 3, 3), rule=BoundHolds("dot", x="i"), bound=lambda p: 0.01,
    mutants=[Mutant("inflated", derive=derive_inflated, why="adds 1")])


def _real_claims():
    from proofs_check.claims import load_claims

    claims = load_claims()
    small = []
    # mp_action_count at n = 256 is one of the quick-budget claims whose runs differed between
    # --workers 1 and --workers 2 (the game's 256 x 256 products); kernel_recovery fits features
    # with small BLAS products.
    for cid, grid, seeds in [("nash.mp_action_count", Grid(n=[256], beta=[0.1]), 2),
                             ("contrastive_ucb.kernel_recovery", Grid(S=[10], A=[2], d=[2], n=[500]), 1)]:
        claim = claims[cid]
        small.append(dataclasses.replace(claim, sweep=dataclasses.replace(
            claim.sweep, quick=grid, seeds_quick=seeds, common_seeds_over=())))
    return small


def _payloads(path):
    with ResultStore(path, readonly=True) as store:
        return {k[:4]: v for k, v in store.payloads().items()}   # code version aside


def test_blas_here_is_thread_sensitive():
    """The synthetic claim's arithmetic depends on the BLAS thread count on this machine, so the
    comparison below would catch an executor that leaves BLAS multi-threaded."""
    from threadpoolctl import threadpool_limits

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: BLAS never splits")
    seed = np.random.SeedSequence(7)
    with threadpool_limits(limits=2):
        two = _blas_reductions(seed)
    with threadpool_limits(limits=1):
        one = _blas_reductions(seed)
    assert two["dot"] != one["dot"] or two["product_sum"] != one["product_sum"]


def test_inline_pool_and_dask_processes_store_identical_bytes(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask
    from threadpoolctl import threadpool_limits

    claims = [BLAS_CLAIM] + _real_claims()
    # In-process, with the multi-threaded BLAS a 2-core machine has by default.
    with threadpool_limits(limits=2), ResultStore(tmp_path / "inline") as store:
        inline = run_claims(claims, store=store, executor=InlineExecutor())
    with make_executor(workers=2) as pool, ResultStore(tmp_path / "pool") as store:
        pooled = run_claims(claims, store=store, executor=pool)
    # Dask's nanny starts workers with OPENBLAS_NUM_THREADS=1; without it they would keep the
    # default pool, and only the runner's own limit (in a worker thread) makes them agree.
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, ResultStore(tmp_path / "dask") as store:
        dasked = run_claims(claims, store=store, executor=client.get_executor(pure=False))
    a, b, c = (_payloads(tmp_path / name) for name in ("inline", "pool", "dask"))
    expected = sum(len(cl.computed_variants()) * len(cl.sweep.quick) * cl.sweep.seeds_quick for cl in claims)
    assert len(a) == expected and {k[0] for k in a} == {cl.id for cl in claims}
    differing = sorted(k for k in a if not (a[k] == b.get(k) == c.get(k)))
    assert not differing and a.keys() == b.keys() == c.keys(), (len(differing), sorted({k[:2] for k in differing}))
    for x, y, z in zip(inline.results, pooled.results, dasked.results):
        assert x.verdict == y.verdict == z.verdict
