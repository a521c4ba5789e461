"""Parallel dense sweeps: bit-identical to the serial kernels, size-gated, thread knobs, safety.

The ``*_parallel`` kernels split each stage's states over threads; every state runs the same
inlined per-state function as the serial kernel, so the results must agree bit for bit (not just
to rounding). Speed is measured in ``benchmarks/bench_core.py``, never here.
"""

import os
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit import TabularMDP, _kernels
from mdpkit.solvers import reference
from mdpkit.mdp import validate_policy
from mdpkit.testing import deterministic_policies, stochastic_policies, tabular_mdps

TWO_THREADS = numba.config.NUMBA_NUM_THREADS >= 2


def _solve_with(kernel_single, kernel_batched, P_stages, R):
    B, H, S, A = R.shape
    Q, V = np.empty((B, H, S, A)), np.empty((B, H + 1, S))
    policy = np.empty((B, H, S), dtype=np.int64)
    if B == 1:
        kernel_single(P_stages, R[0], Q[0], V[0], policy[0])
    else:
        kernel_batched(P_stages, R, Q, V, policy)
    return Q, V, policy


def _serial_solve(P_stages, R):
    return _solve_with(_kernels.backward_induction_dense_single, _kernels.backward_induction_dense, P_stages, R)


def _parallel_solve(P_stages, R):
    return _solve_with(_kernels.backward_induction_dense_single_parallel,
                       _kernels.backward_induction_dense_parallel, P_stages, R)


def _evaluate_with(kernel, P_stages, R, policy):
    B, H, S, A = R.shape
    det, stoch = (policy, np.zeros((0, 0, 0))) if policy.ndim == 2 else (np.zeros((0, 0), np.int64), policy)
    Q, V = np.empty((B, H, S, A)), np.empty((B, H + 1, S))
    kernel(P_stages, R, det, stoch, Q, V)
    return Q, V


def _random_dense(seed, S, A, H, stationary, B):
    """Dense random transitions (Dirichlet rows) and B normal reward functions."""
    rng = np.random.default_rng(seed)
    G = 1 if stationary else H
    P_stages = rng.dirichlet(np.full(S, 0.5), size=(G, S, A))
    return P_stages, rng.normal(size=(B, H, S, A)), rng


def _assert_identical(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------------ bit identity, above the gate
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(320, 380), H=st.integers(1, 3),
       stationary=st.booleans(), B=st.integers(1, 3))
def test_parallel_solve_is_bit_identical_above_the_threshold(seed, S, H, stationary, B):
    A = 10
    assert B * S * A * S >= _kernels.PARALLEL_MIN_STAGE_WORK  # the sizes the dispatch parallelises
    P_stages, R, _ = _random_dense(seed, S, A, H, stationary, B)
    serial = _serial_solve(P_stages, R)
    _assert_identical(_parallel_solve(P_stages, R), serial)
    # ... and both agree with the plain-numpy specification.
    P = np.broadcast_to(P_stages, (H, S, A, S))
    for b in range(B):
        Q, V, policy = reference.backward_induction(P, R[b])
        np.testing.assert_allclose(serial[0][b], Q, rtol=0, atol=1e-12)
        np.testing.assert_allclose(serial[1][b], V, rtol=0, atol=1e-12)
        # Normal rewards: ties have probability zero, so the greedy actions agree exactly.
        np.testing.assert_array_equal(serial[2][b], policy)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), A=st.integers(1, 5), H=st.integers(1, 2), stationary=st.booleans())
def test_paired_backup_of_large_models_is_bit_identical_and_matches_numpy(seed, A, H, stationary):
    # From PAIRED_MIN_STATES on, the single-reward kernels take actions in pairs (odd A: one left
    # over); just below, one at a time. Both sides of the switch, serial and parallel, against numpy.
    for S in (_kernels.PAIRED_MIN_STATES - 1, _kernels.PAIRED_MIN_STATES):
        P_stages, R, _ = _random_dense(seed, S, A, H, stationary, 1)
        serial = _serial_solve(P_stages, R)
        _assert_identical(_parallel_solve(P_stages, R), serial)
        Q, V, policy = reference.backward_induction(np.broadcast_to(P_stages, (H, S, A, S)), R[0])
        np.testing.assert_allclose(serial[0][0], Q, rtol=0, atol=1e-12)
        np.testing.assert_allclose(serial[1][0], V, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(serial[2][0], policy)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), stationary=st.booleans(), B=st.integers(1, 2),
       deterministic=st.booleans())
def test_parallel_evaluation_is_bit_identical_above_the_threshold(seed, stationary, B, deterministic):
    S, A, H = 330, 10, 2
    P_stages, R, rng = _random_dense(seed, S, A, H, stationary, B)
    policy = rng.integers(0, A, size=(H, S)) if deterministic else rng.dirichlet(np.ones(A), size=(H, S))
    serial = _evaluate_with(_kernels.policy_evaluation_dense, P_stages, R, policy)
    _assert_identical(_evaluate_with(_kernels.policy_evaluation_dense_parallel, P_stages, R, policy), serial)
    P = np.broadcast_to(P_stages, (H, S, A, S))
    for b in range(B):
        Q, V = reference.policy_evaluation(P, R[b], policy)
        np.testing.assert_allclose(serial[0][b], Q, rtol=0, atol=1e-12)
        np.testing.assert_allclose(serial[1][b], V, rtol=0, atol=1e-12)


# ------------------------------------------------ bit identity on edge cases (gate lowered to 0)
@given(mdp=tabular_mdps(), B=st.integers(1, 3), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_parallel_path_equals_serial_path_on_small_edge_cases(mdp, B, seed, data):
    # S = 1, A = 1, H = 1, one-hot rows, exact ties: the parallel kernels must give the same bits
    # as the serial ones everywhere, not only on the large random models the gate lets through.
    rewards = np.random.default_rng(seed).normal(size=(B, mdp.H, mdp.S, mdp.A))
    for R in (mdp.R[None], rewards):  # the model's rewards (ties) and a batch
        _assert_identical(_parallel_solve(mdp.P_stages, R), _serial_solve(mdp.P_stages, R))
        for policy in (data.draw(deterministic_policies(mdp)), data.draw(stochastic_policies(mdp))):
            policy = validate_policy(policy, mdp.H, mdp.S, mdp.A)
            _assert_identical(_evaluate_with(_kernels.policy_evaluation_dense_parallel, mdp.P_stages, R, policy),
                              _evaluate_with(_kernels.policy_evaluation_dense, mdp.P_stages, R, policy))


# ----------------------------------------------------------------------- dispatch and the gate
class _Spy:
    def __init__(self, kernel):
        self.kernel, self.calls = kernel, 0

    def __call__(self, *args):
        self.calls += 1
        return self.kernel(*args)


@pytest.fixture
def spies(monkeypatch):
    names = ("backward_induction_dense_single", "backward_induction_dense", "policy_evaluation_dense")
    found = {}
    for name in names:
        for variant in (name, name + "_parallel"):
            found[variant] = _Spy(getattr(_kernels, variant))
            monkeypatch.setattr(_kernels, variant, found[variant])
    return found


def _big_mdp(seed=0, S=330, A=10, H=3):
    return mdpkit.envs.random_mdp(S, A, H, seed=seed)


@pytest.mark.skipif(not TWO_THREADS, reason="numba has a single thread here")
def test_solve_and_evaluate_take_the_parallel_path_above_the_gate(spies, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    mdp = _big_mdp()
    assert mdp.S * mdp.A * mdp.S >= _kernels.PARALLEL_MIN_STAGE_WORK
    sol = mdpkit.solve(mdp, method="dense")
    batch = mdpkit.solve(mdp, rewards=np.stack([mdp.R, 1 - mdp.R]), method="dense")
    ev = mdpkit.evaluate(mdp, sol.policy, method="dense")
    assert spies["backward_induction_dense_single_parallel"].calls == 1
    assert spies["backward_induction_dense_parallel"].calls == 1
    assert spies["policy_evaluation_dense_parallel"].calls == 1
    assert sum(spies[name].calls for name in ("backward_induction_dense_single", "backward_induction_dense",
                                              "policy_evaluation_dense")) == 0
    # The solution through the parallel path is the serial kernel's, bit for bit.
    _assert_identical((sol.Q[None], sol.V[None], sol.policy[None]), _serial_solve(mdp.P_stages, mdp.R[None]))
    np.testing.assert_array_equal(batch.Q[0], sol.Q)
    np.testing.assert_array_equal(ev.V, sol.V)
    assert mdpkit.bellman_residual(mdp, sol.V) <= 1e-10


def test_small_models_stay_serial(spies, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    mdp = _big_mdp(S=100)  # 100 * 10 * 100 = 1e5 entries per stage, under the gate
    assert mdp.S * mdp.A * mdp.S < _kernels.PARALLEL_MIN_STAGE_WORK
    sol = mdpkit.solve(mdp, method="dense")
    mdpkit.evaluate(mdp, sol.policy, method="dense")
    mdpkit.solve(mdp, rewards=np.stack([mdp.R] * 9), method="dense")  # B * S * A * S = 9e5: still serial
    assert spies["backward_induction_dense_single"].calls == 1
    assert spies["backward_induction_dense"].calls == 1
    assert spies["policy_evaluation_dense"].calls == 1
    assert sum(spies[name].calls for name in spies if name.endswith("_parallel")) == 0


def test_batch_size_counts_towards_the_gate(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    S, A = 100, 10
    assert _kernels.dense_threads(9 * S * A * S) == 1
    assert _kernels.dense_threads(10 * S * A * S) == numba.get_num_threads()


@pytest.mark.parametrize("value, expected", [("1", 1), (" 1 ", 1), ("64", None), ("", None), ("abc", None)])
def test_omp_num_threads_caps_the_threads(monkeypatch, value, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    big = 10 * _kernels.PARALLEL_MIN_STAGE_WORK
    assert _kernels.dense_threads(big) == (numba.get_num_threads() if expected is None else expected)


def test_numba_set_num_threads_is_honoured(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert _kernels.dense_threads(10 * _kernels.PARALLEL_MIN_STAGE_WORK) == 1
    finally:
        numba.set_num_threads(before)
    assert _kernels.dense_threads(_kernels.PARALLEL_MIN_STAGE_WORK - 1) == 1


def test_proofs_check_observations_run_single_threaded():
    # proofs_check runs each observation under one_blas_thread (one worker process per core):
    # nested kernel threads there would oversubscribe the cores.
    from proofs_check.runner import one_blas_thread

    big = 10 * _kernels.PARALLEL_MIN_STAGE_WORK
    with one_blas_thread():
        assert _kernels.dense_threads(big) == 1


# --------------------------------------------------------------------------------- safety
@pytest.mark.skipif(not TWO_THREADS, reason="numba has a single thread here")
def test_concurrent_solves_from_python_threads(monkeypatch):
    # numba's workqueue layer aborts the whole process on concurrent parallel regions: the
    # dispatch lets one sweep at a time go parallel and runs the others serially (same bits).
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    mdp = _big_mdp(seed=1, H=20)  # numba releases the GIL: the threads' sweeps overlap
    want = mdpkit.solve(mdp, method="dense")
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(mdpkit.solve(mdp, method="dense"))
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    for res in results:
        np.testing.assert_array_equal(res.Q, want.Q)
        np.testing.assert_array_equal(res.policy, want.policy)


_FORK_SCRIPT = textwrap.dedent("""
    import concurrent.futures, multiprocessing
    import numba, numpy as np
    import mdpkit

    mdp = mdpkit.envs.random_mdp(330, 10, 2, seed=0)

    def child_solve(_):
        return mdpkit.solve(mdp, method="dense").V

    if __name__ == "__main__":
        want = mdpkit.solve(mdp, method="dense").V   # starts numba's threading layer here
        layer = numba.threading_layer()
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            got = pool.submit(child_solve, 0).result()  # a killed child raises BrokenProcessPool
        assert np.array_equal(got, want)
        print(layer)
""")


@pytest.mark.skipif(not TWO_THREADS or not hasattr(os, "fork"), reason="needs fork and two numba threads")
@pytest.mark.parametrize("layer", [None, "omp", "tbb"])
def test_fork_after_a_parallel_solve(tmp_path, layer):
    # GNU OpenMP kills a child forked after it started, at the child's first parallel region:
    # such a child must run the serial kernels. Without a user choice, mdpkit prefers a layer
    # whose threads sleep (tbb, else workqueue) over GNU OpenMP.
    if layer == "tbb" and not _pip_tbb_installed():
        pytest.skip("the tbb wheel is not installed here (a dependency on x86-64)")
    script = tmp_path / "fork_after_parallel.py"
    script.write_text(_FORK_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_THREADING", "OMP_NUM"))}
    if layer is not None:
        env["NUMBA_THREADING_LAYER"] = layer
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    used = done.stdout.strip().splitlines()[-1]
    assert used == (layer or used) and (layer is not None or used in ("tbb", "workqueue")), used
    if layer is None and _pip_tbb_installed():
        assert used == "tbb", used   # the wheel's library is preloaded by mdpkit._kernels


def _pip_tbb_installed() -> bool:
    import importlib.metadata

    try:
        importlib.metadata.version("tbb")
    except importlib.metadata.PackageNotFoundError:
        return False
    return sys.platform.startswith("linux") and os.path.exists(os.path.join(sys.prefix, "lib", "libtbb.so.12"))
