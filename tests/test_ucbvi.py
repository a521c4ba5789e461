"""UCBVI: planning kernel vs numpy, whole episode loop vs a numpy re-implementation, optimism,
reproducibility, a regret sanity check and argument validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit import _kernels, envs
from mdpkit.algorithms import _ucbvi_kernels as kern
from mdpkit.algorithms import ucbvi
from mdpkit.algorithms.results import RunResult


# ============================================================================ numpy references
def reference_inverses(counts_sa):
    """``1 / n`` and ``1 / sqrt(n)``, 0 where ``n = 0`` (what :func:`kern.refresh_pair_inverses` caches)."""
    visited = counts_sa > 0
    safe = np.where(visited, counts_sa, 1.0)
    return np.where(visited, 1.0 / safe, 0.0), np.where(visited, 1.0 / np.sqrt(safe), 0.0)


def reference_plan(counts_sas, counts_sa, visits, R, L, bernstein, bonus_scale, Q_prev, optimistic_init=True):
    """Azar et al.'s optimistic backward induction, written directly from the formulas.

    ``optimistic_init=False``: unvisited pairs are worth ``R`` and there is no ``min`` with ``Q_prev``."""
    H, S, A = R.shape
    G = counts_sas.shape[0]
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        n = counts_sa[g]
        visited = n > 0
        P_hat = np.divide(counts_sas[g], n[:, :, None], out=np.zeros_like(counts_sas[g]),
                          where=visited[:, :, None])
        mean = P_hat @ V[h + 1]
        if bernstein:
            var = np.maximum(P_hat @ V[h + 1] ** 2 - mean ** 2, 0.0)
            c = 1e4 * H ** 3 * S ** 2 * A * L ** 2
            with np.errstate(divide="ignore"):
                w = np.where(visits[h + 1] > 0, np.minimum(c / visits[h + 1], H ** 2), H ** 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                b = np.sqrt(8 * L * var / n) + 14 * H * L / (3 * n) + np.sqrt(8 * (P_hat @ w) / n)
        else:
            with np.errstate(divide="ignore"):
                b = 7 * H * L / np.sqrt(n)
        unvisited_value = H - h if optimistic_init else R[h]
        q = np.where(visited, np.minimum(R[h] + mean + bonus_scale * np.where(visited, b, 0.0), H - h),
                     unvisited_value)
        Q[h] = np.minimum(q, Q_prev[h]) if optimistic_init else q
        V[h] = Q[h].max(axis=1)
    return Q, V, Q.argmax(axis=2)


def reference_run(mdp, uniforms, L, bernstein, bonus_scale, optimistic_init=True):
    """UCBVI episode by episode in Python/numpy (same uniforms as the kernel)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    G = mdp.P_stages.shape[0]
    counts_sas, counts_sa, visits = np.zeros((G, S, A, S)), np.zeros((G, S, A)), np.zeros((H + 1, S))
    Q = np.broadcast_to((H - np.arange(H, dtype=float))[:, None, None], (H, S, A)).copy()
    P_cdf = _kernels.cumulative_rows(np.asarray(mdp.P_stages))
    mu0_cdf = _kernels.cumulative_rows(np.asarray(mdp.mu0))
    values = []
    for u in uniforms:
        Q, V, policy = reference_plan(counts_sas, counts_sa, visits, mdp.R, L, bernstein, bonus_scale, Q,
                                      optimistic_init)
        values.append(mdpkit.evaluate(mdp, policy).value)
        s = int(np.searchsorted(mu0_cdf, u[0], side="right"))
        visits[0, s] += 1
        for h in range(H):
            a = policy[h, s]
            g = h if G > 1 else 0
            s2 = int(np.searchsorted(P_cdf[g, s, a], u[1 + h], side="right"))
            counts_sas[g, s, a, s2] += 1
            counts_sa[g, s, a] += 1
            visits[h + 1, s2] += 1
            s = s2
    return np.array(values), counts_sas, counts_sa, visits, Q


# ============================================================================ planning kernel
@given(seed=st.integers(0, 2 ** 32 - 1), S=st.integers(1, 5), A=st.integers(1, 4), H=st.integers(1, 5),
       stationary=st.booleans(), bernstein=st.booleans(), sparse_counts=st.booleans(),
       optimistic_init=st.booleans())
@settings(max_examples=40)
def test_plan_kernel_matches_numpy(seed, S, A, H, stationary, bernstein, sparse_counts, optimistic_init):
    rng = np.random.default_rng(seed)
    G = 1 if stationary else H
    counts_sas = rng.integers(0, 4, size=(G, S, A, S)).astype(float)
    if sparse_counts:  # many unvisited pairs
        counts_sas *= rng.random((G, S, A, 1)) < 0.5
    counts_sa = counts_sas.sum(axis=3)
    visits = rng.integers(0, 3, size=(H + 1, S)).astype(float) * rng.choice([1.0, 1e9], size=(H + 1, S))
    R = rng.random((H, S, A))
    L = float(rng.uniform(0.5, 20.0))
    scale = float(rng.choice([0.0, 0.01, 1.0]))
    Q_prev = (H - np.arange(H))[:, None, None] * rng.uniform(0.5, 1.5, size=(H, S, A))
    Q = Q_prev.copy()
    V, policy, w = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64), np.empty((H + 1, S))
    inv_n, inv_sqrt_n = reference_inverses(counts_sa)
    kern.optimistic_plan(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, R, L, bernstein, scale, optimistic_init,
                         w, Q, V, policy)
    Q_ref, V_ref, _ = reference_plan(counts_sas, counts_sa, visits, R, L, bernstein, scale, Q_prev, optimistic_init)
    # The kernel's one-pass variance E[V^2] - E[V]^2 carries a rounding error up to ~4 eps H^2, which the
    # square root of the Bernstein term turns into sqrt(8 L 4 eps H^2): visible when the variance is ~0
    # (S = 1) and Q is not clipped by Q_prev (optimistic_init=False).
    atol = 1e-12 + (scale * math.sqrt(8 * L * 4 * np.finfo(float).eps * H ** 2) if bernstein else 0.0)
    np.testing.assert_allclose(Q, Q_ref, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(V, V_ref, rtol=1e-12, atol=atol * H)
    chosen = np.take_along_axis(Q, policy[:, :, None], axis=2)[:, :, 0]
    np.testing.assert_array_equal(chosen, Q.max(axis=2))  # greedy


@pytest.mark.parametrize("stationary", [True, False])
@pytest.mark.parametrize("bernstein", [True, False])
@pytest.mark.parametrize("optimistic_init", [True, False])
@pytest.mark.parametrize("scale", [0.05, 1.0])
def test_episode_loop_matches_numpy_reference(stationary, bernstein, optimistic_init, scale):
    """Counts, visits, Q and the audited values of a short run equal a Python/numpy re-implementation.

    ``scale = 0.05``: policies change along the run; ``1.0``: most pairs saturate at the clip, so the
    planner's saturation shortcut is taken for most of them."""
    mdp = envs.random_mdp(4, 3, 4, stationary=stationary, seed=3, mu0=np.full(4, 0.25))
    n, L = 60, 3.0
    uniforms = np.random.default_rng(7).random((n, 1 + mdp.H))
    state = ucbvi.LearnerState(mdp)
    values, opt_values = np.empty(n), np.empty(n)
    P = np.ascontiguousarray(mdp.P_stages)
    kern.run_ucbvi_chunk(P, _kernels.cumulative_rows(P), np.asarray(mdp.mu0),
                         _kernels.cumulative_rows(np.asarray(mdp.mu0)), np.asarray(mdp.R), L, bernstein, scale,
                         optimistic_init, uniforms, state.counts_sas, state.counts_sa, state.inv_n, state.inv_sqrt_n,
                         state.visits, state.w_next, state.Q, state.V, state.policy, state.V_audit, values, opt_values)
    ref_values, counts_sas, counts_sa, visits, Q = reference_run(mdp, uniforms, L, bernstein, scale,
                                                                 optimistic_init)
    np.testing.assert_array_equal(state.counts_sas, counts_sas)
    np.testing.assert_array_equal(state.counts_sa, counts_sa)
    np.testing.assert_array_equal(state.visits, visits)
    # the cached inverses follow every recorded transition (bit-exact: the same two operations)
    inv_n, inv_sqrt_n = reference_inverses(counts_sa)
    np.testing.assert_array_equal(state.inv_n, inv_n)
    np.testing.assert_array_equal(state.inv_sqrt_n, inv_sqrt_n)
    assert state.counts_sa.sum() == n * mdp.H
    np.testing.assert_allclose(state.Q, Q, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values, ref_values, rtol=1e-12, atol=1e-12)


@given(seed=st.integers(0, 2 ** 32 - 1), G=st.integers(1, 3), S=st.integers(1, 5), A=st.integers(1, 4))
@settings(max_examples=20)
def test_refresh_pair_inverses_matches_numpy(seed, G, S, A):
    rng = np.random.default_rng(seed)
    counts_sa = rng.integers(0, 5, size=(G, S, A)).astype(float) * rng.choice([1.0, 1e6], size=(G, S, A))
    inv_n, inv_sqrt_n = np.full((G, S, A), np.nan), np.full((G, S, A), np.nan)
    kern.refresh_pair_inverses(counts_sa, inv_n, inv_sqrt_n)
    want_n, want_sqrt = reference_inverses(counts_sa)
    np.testing.assert_array_equal(inv_n, want_n)
    np.testing.assert_array_equal(inv_sqrt_n, want_sqrt)


def test_saturation_shortcut_returns_the_clip_bit_exactly():
    """Where the planner skips the row sums (a lower bound already reaches the clip), Q equals the
    clip as a float; a pair just below the test's margin is computed in full and still matches."""
    rng = np.random.default_rng(0)
    H, S, A, L = 4, 5, 3, 4.0
    counts_sas = rng.integers(1, 4, size=(1, S, A, S)).astype(float)
    counts_sas[0, 0, 0] *= 1e6  # one well-visited pair: its bonus is small, its Q below the clip
    counts_sa = counts_sas.sum(axis=3)
    visits = np.ones((H + 1, S))
    R = rng.random((H, S, A))
    inv_n, inv_sqrt_n = reference_inverses(counts_sa)
    for optimistic_init in (True, False):
        Q_prev = (H - np.arange(H, dtype=float))[:, None, None] * np.ones((H, S, A))
        Q = Q_prev.copy()
        V, policy, w = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64), np.empty((H + 1, S))
        kern.optimistic_plan(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, R, L, True, 1.0, optimistic_init, w,
                             Q, V, policy)
        Q_ref, _, _ = reference_plan(counts_sas, counts_sa, visits, R, L, True, 1.0, Q_prev, optimistic_init)
        cap = np.broadcast_to((H - np.arange(H, dtype=float))[:, None, None], Q.shape)
        saturated = Q_ref == cap
        assert saturated.mean() > 0.5 and not saturated[:, 0, 0].all()  # both paths are exercised
        np.testing.assert_array_equal(Q[saturated], cap[saturated])
        np.testing.assert_allclose(Q, Q_ref, rtol=1e-12, atol=1e-12)


# ============================================================================ run()
@given(seed=st.integers(0, 2 ** 32 - 1), S=st.integers(1, 5), A=st.integers(1, 3), H=st.integers(1, 5),
       stationary=st.booleans(), bonus=st.sampled_from(ucbvi.BONUSES))
@settings(max_examples=25)
def test_optimism_with_theoretical_bonus(seed, S, A, H, stationary, bonus):
    """mu0 . V_bar_k >= V* in every episode (theoretical constants, random instances)."""
    mdp = envs.random_mdp(S, A, H, stationary=stationary, seed=seed)
    res = ucbvi.run(mdp, K=300, seed=seed, bonus=bonus)
    opt = res.extras["optimistic_values"]
    assert np.all(opt >= res.optimal_value - 1e-9), (opt.min(), res.optimal_value)
    assert np.all(res.values <= res.optimal_value + 1e-9)


def test_values_are_exact_policy_values_and_regret_is_cumulative():
    mdp = envs.random_mdp(3, 2, 3, seed=0)
    res = ucbvi.run(mdp, K=50, seed=0, bonus_scale=0.02)
    np.testing.assert_allclose(res.regret, np.cumsum(res.optimal_value - res.values))
    assert res.optimal_value == mdpkit.solve(mdp).value
    assert res.hyper["bonus_scale"] == 0.02 and res.hyper["bonus"] == "bernstein"
    assert res.hyper["counts"] == "pooled"
    assert isinstance(res, RunResult) and res.K == 50 and not res.values.flags.writeable


def test_bit_identical_per_seed_and_chunk_size(monkeypatch):
    mdp = envs.random_mdp(5, 3, 4, seed=1, stationary=False)
    a = ucbvi.run(mdp, K=400, seed=12, bonus_scale=0.1)
    b = ucbvi.run(mdp, K=400, seed=np.random.SeedSequence(12), bonus_scale=0.1)
    np.testing.assert_array_equal(a.values, b.values)
    monkeypatch.setattr(ucbvi, "_UNIFORMS_PER_CHUNK", 7 * (1 + mdp.H))  # chunks of 7 episodes
    c = ucbvi.run(mdp, K=400, seed=12, bonus_scale=0.1)
    np.testing.assert_array_equal(a.values, c.values)
    np.testing.assert_array_equal(a.extras["optimistic_values"], c.extras["optimistic_values"])
    d = ucbvi.run(mdp, K=400, seed=13, bonus_scale=0.1)
    assert not np.array_equal(a.values, d.values)


def test_regret_sublinear_on_a_small_instance():
    """Theoretical Bernstein bonus, tiny instance: per-episode regret falls well below its start
    and cumulative regret grows clearly slower than linearly between K/4 and K."""
    mdp = envs.random_mdp(2, 2, 2, seed=4)
    res = ucbvi.run(mdp, K=40_000, seed=0)
    per_ep = res.per_episode_regret
    first, last = per_ep[:4000].mean(), per_ep[-4000:].mean()
    assert first > 0.05
    assert last < 0.2 * first, (first, last)
    # growth exponent between K/4 and K well below linear
    slope = math.log(res.regret[-1] / res.regret[9_999]) / math.log(4.0)
    assert slope < 0.75, slope


def test_bonus_removed_mutant_is_greedy_and_linear_on_riverswim():
    """bonus_scale=0 alone still explores (optimistic initialisation); with optimistic_init=False
    the learner is greedy, never swims right and its per-episode regret stays at V* - V^{left}."""
    mdp = envs.riverswim(4, 10)
    optimistic = ucbvi.run(mdp, K=4000, seed=0, bonus_scale=0.0)
    greedy = ucbvi.run(mdp, K=4000, seed=0, bonus_scale=0.0, optimistic_init=False)
    assert greedy.hyper["optimistic_init"] is False
    late = greedy.per_episode_regret[-1000:]
    assert late.min() > 0.5 * mdpkit.solve(mdp).value  # stuck on a poor policy: linear regret
    assert optimistic.per_episode_regret[-1000:].mean() < 0.1 * late.mean()


@pytest.mark.parametrize("kwargs, match", [
    ({"K": 0}, "K"), ({"K": 2.5}, "K"), ({"seed": -1}, "seed"), ({"seed": None}, "seed"),
    ({"bonus": "ucb"}, "bonus"), ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"),
    ({"delta": float("nan")}, "delta"), ({"bonus_scale": -0.1}, "bonus_scale"),
    ({"bonus_scale": float("inf")}, "bonus_scale"), ({"optimistic_init": 1}, "optimistic_init"),
    ({"record": 1}, "record"), ({"record": "upper_Q"}, "record"),
])
def test_validation(kwargs, match):
    mdp = envs.random_mdp(2, 2, 2, seed=0)
    args = {"K": 5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        ucbvi.run(mdp, **args)


def test_rejects_non_mdp():
    with pytest.raises(ValueError, match="mdp"):
        ucbvi.run(np.zeros((2, 2)), K=3, seed=0)


# ============================================================================ record=True
@pytest.mark.parametrize("stationary", [True, False])
@pytest.mark.parametrize("bonus, scale", [("bernstein", 1.0), ("bernstein", 0.02), ("hoeffding", 0.05)])
def test_record_changes_no_output_and_holds_the_learner_state(stationary, bonus, scale):
    mdp = envs.random_mdp(3, 2, 4, stationary=stationary, seed=2)
    K = 120
    plain = ucbvi.run(mdp, K=K, seed=9, bonus=bonus, bonus_scale=scale)
    rec = ucbvi.run(mdp, K=K, seed=9, bonus=bonus, bonus_scale=scale, record=True)
    np.testing.assert_array_equal(plain.values, rec.values)
    np.testing.assert_array_equal(plain.extras["optimistic_values"], rec.extras["optimistic_values"])
    assert plain.hyper == rec.hyper and set(rec.extras) == {"optimistic_values", *ucbvi.RECORDED}
    H, S, A = mdp.H, mdp.S, mdp.A
    G = 1 if stationary else H
    ex = rec.extras
    assert ex["counts_sas"].shape == (K, G, S, A, S) and ex["upper_Q"].shape == (K, H, S, A)
    assert not ex["counts_sas"][0].any() and not ex["visits"][0].any()  # counts BEFORE each episode
    # one trajectory (H transitions, H + 1 visited states) per episode
    np.testing.assert_array_equal(ex["counts_sas"].sum(axis=(1, 2, 3, 4)), H * np.arange(K))
    np.testing.assert_array_equal(ex["counts_sa"], ex["counts_sas"].sum(axis=-1))
    np.testing.assert_array_equal(ex["visits"].sum(axis=2), np.arange(K)[:, None] * np.ones(H + 1))
    # Q_k <= Q_{k-1}, V_k = max_a Q_k, pi^k greedy (ties to the lowest action), V_bar_k[0] reported
    assert np.all(np.diff(ex["upper_Q"], axis=0) <= 0)
    np.testing.assert_array_equal(ex["upper_V"][:, :H], ex["upper_Q"].max(axis=3))
    np.testing.assert_array_equal(ex["policy"], ex["upper_Q"].argmax(axis=3))
    np.testing.assert_array_equal(ex["upper_V"][:, 0] @ np.asarray(mdp.mu0), ex["optimistic_values"])
    # the recorded policy is the audited one
    for k in (0, K // 2, K - 1):
        assert rec.values[k] == pytest.approx(mdpkit.evaluate(mdp, ex["policy"][k]).value, abs=1e-12)
