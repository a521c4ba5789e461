"""Tests of the instance library mdpkit.envs: validity, closed-form optimal values, seeding, sparsity."""
import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit import TabularMDP, envs
from mdpkit.solvers import reference

GRID = """
#######
#S....#
#.###.#
#...#G#
#######
"""


def _assert_valid(mdp):
    """A valid TabularMDP (re-validated through the public constructor) with a name."""
    assert isinstance(mdp, TabularMDP)
    assert isinstance(mdp.name, str) and mdp.name
    TabularMDP(np.asarray(mdp.P), mdp.R, mdp.mu0, reward_noise=mdp.reward_noise, name=mdp.name)
    # the kernels agree with the plain-numpy reference on every instance
    Q, V, _ = reference.backward_induction(np.asarray(mdp.P), mdp.R)
    sol = mdpkit.solve(mdp)
    np.testing.assert_allclose(sol.V, V, rtol=0, atol=1e-12 * max(1, mdp.H))
    return sol


def _bfs(layout, source, target):
    rows = [r.strip() for r in layout.strip("\n").splitlines() if r.strip()]
    dist, queue = {source: 0}, deque([source])
    while queue:
        i, j = queue.popleft()
        if (i, j) == target:
            return dist[(i, j)]
        for di, dj in envs.GRID_MOVES:
            k = (i + di, j + dj)
            if 0 <= k[0] < len(rows) and 0 <= k[1] < len(rows[0]) and rows[k[0]][k[1]] != "#" and k not in dist:
                dist[k] = dist[(i, j)] + 1
                queue.append(k)
    return math.inf


ALL_INSTANCES = [
    lambda: envs.random_mdp(7, 3, 5, seed=0),
    lambda: envs.random_mdp(30, 2, 4, n_successors=2, stationary=False, reward="sparse", seed=1),
    lambda: envs.random_mdp(4, 4, 3, concentration=0.05, reward="binary", mu0=np.full(4, 0.25), seed=2),
    lambda: envs.riverswim(),
    lambda: envs.riverswim(2, 3, reward_noise="bernoulli"),
    lambda: envs.deep_sea(1),
    lambda: envs.deep_sea(8, stochastic=True),
    lambda: envs.deep_sea(5, randomize_actions=True, seed=4),
    lambda: envs.chain(2),
    lambda: envs.chain(12, 30, slip=0.1),
    lambda: envs.gridworld(GRID, 12),
    lambda: envs.gridworld(["S.G", "..."], 4, slip=0.2, absorbing=True),
    lambda: envs.bandit([0.2, 0.9, 0.9]),
    lambda: envs.bandit([1.0], reward_noise="deterministic"),
]


@pytest.mark.parametrize("make", ALL_INSTANCES)
def test_every_instance_is_valid(make):
    _assert_valid(make())


# ----------------------------------------------------------------------------- random_mdp
@given(S=st.integers(1, 8), A=st.integers(1, 4), H=st.integers(1, 5), stationary=st.booleans(),
       reward=st.sampled_from(envs.tabular.RANDOM_REWARDS), seed=st.integers(0, 2**32 - 1),
       data=st.data())
def test_random_mdp_is_valid_and_reproducible(S, A, H, stationary, reward, seed, data):
    k = data.draw(st.none() | st.integers(1, S))
    m1 = envs.random_mdp(S, A, H, n_successors=k, stationary=stationary, reward=reward, seed=seed)
    m2 = envs.random_mdp(S, A, H, n_successors=k, stationary=stationary, reward=reward, seed=seed)
    _assert_valid(m1)
    assert (m1.S, m1.A, m1.H) == (S, A, H)
    assert m1.P_stages.shape[0] == (1 if stationary else H)
    assert f"seed={seed}" in m1.name
    np.testing.assert_array_equal(m1.P_stages, m2.P_stages)
    np.testing.assert_array_equal(m1.R, m2.R)
    if reward == "binary":
        assert np.isin(m1.R, (0.0, 1.0)).all()
    if reward == "sparse":
        per_stage = (m1.R == 1).reshape(H, -1).sum(1)
        assert (per_stage == 1).all() and (m1.R[m1.R != 1] == 0).all()


def test_random_mdp_seeds_differ_and_accept_seed_sequences_and_generators():
    a, b = envs.random_mdp(10, 2, 3, seed=0), envs.random_mdp(10, 2, 3, seed=1)
    assert not np.array_equal(a.P_stages, b.P_stages)
    ss = np.random.SeedSequence(123)
    c, d = envs.random_mdp(10, 2, 3, seed=ss), envs.random_mdp(10, 2, 3, seed=np.random.SeedSequence(123))
    np.testing.assert_array_equal(c.P_stages, d.P_stages)
    e = envs.random_mdp(10, 2, 3, seed=np.random.default_rng(5))
    f = envs.random_mdp(10, 2, 3, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(e.R, f.R)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_random_mdp_successor_count_and_density(k):
    mdp = envs.random_mdp(200, 3, 4, n_successors=k, stationary=False, seed=7)
    nnz = np.count_nonzero(mdp.P_stages, axis=-1)
    assert (nnz == k).all()
    assert mdp.density == pytest.approx(k / 200)
    assert mdpkit.solve(mdp).method == "sparse"


def test_random_mdp_concentration_shapes_rows():
    peaked = envs.random_mdp(20, 2, 1, concentration=0.01, seed=0)
    flat = envs.random_mdp(20, 2, 1, concentration=100.0, seed=0)
    assert peaked.P_stages.max(-1).mean() > 0.8
    assert flat.P_stages.max(-1).mean() < 0.15


# ----------------------------------------------------------------------------- riverswim
def test_riverswim_matches_its_source():
    """Osband, Russo & Van Roy (2013), Figure 2 / Strehl & Littman (2008), six states."""
    m = envs.riverswim()
    P = m.P_stages[0]
    assert (m.S, m.A, m.H) == (6, 2, 20)
    for s in range(6):
        assert P[s, 0, max(s - 1, 0)] == 1.0
    assert (P[0, 1, 0], P[0, 1, 1]) == (0.4, 0.6)
    for s in range(1, 5):
        assert (P[s, 1, s - 1], P[s, 1, s], P[s, 1, s + 1]) == pytest.approx((0.05, 0.6, 0.35))
    assert (P[5, 1, 4], P[5, 1, 5]) == (0.4, 0.6)
    expected_R = np.zeros((6, 2))
    expected_R[0, 0], expected_R[5, 1] = 0.005, 1.0
    np.testing.assert_array_equal(m.R[0], expected_R)
    np.testing.assert_array_equal(m.mu0, np.eye(6)[0])
    # with enough time the optimal policy swims right from the start
    assert mdpkit.solve(m).policy[0, 0] == 1


def test_riverswim_is_sparse_at_benchmark_size():
    m = envs.riverswim(2000, 40)
    assert m.density <= 2 / 2000
    assert np.count_nonzero(m.P_stages, axis=-1).max() == 3
    sol = mdpkit.solve(m)
    assert sol.method == "sparse"
    # the right end is 1999 steps away: only the left reward is reachable within H = 40
    assert sol.value == pytest.approx(0.005 * 40, abs=1e-12)


def test_riverswim_short_horizon_closed_form():
    # H too short to reach the right end: swimming left in state 0 every step is optimal.
    for S in (3, 6, 10):
        H = S - 1  # reaching state S-1 takes at least S-1 steps, leaving no step to be paid there
        assert mdpkit.solve(envs.riverswim(S, H)).value == pytest.approx(0.005 * H, abs=1e-15)


# ----------------------------------------------------------------------------- deep sea
@pytest.mark.parametrize("N", [1, 2, 3, 5, 10, 20])
@pytest.mark.parametrize("c", [0.0, 0.01, 0.3, 1.0])
def test_deep_sea_closed_form(N, c):
    m = envs.deep_sea(N, move_cost=c)
    sol = _assert_valid(m)
    assert sol.value == pytest.approx(1.0, abs=1e-12)
    if c < 1:  # (at c = 1 always-left ties with V*)
        np.testing.assert_array_equal(sol.policy[np.arange(N), np.arange(N)], 1)  # right on the diagonal
    always_left = np.zeros((N, N), dtype=np.int64)
    always_right = np.ones((N, N), dtype=np.int64)
    assert mdpkit.evaluate(m, always_left).value == pytest.approx(c, abs=1e-12)
    assert mdpkit.evaluate(m, always_right).value == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("N", [1, 2, 4, 10, 25])
@pytest.mark.parametrize("c", [0.0, 0.01, 1 / math.e])
def test_deep_sea_stochastic_closed_form(N, c):
    p = 1 - 1 / N
    v_star = p ** (N - 1) + (1 - p) * (c / N) * sum(p**h * (N - 1 - h) for h in range(N - 1))
    sol = _assert_valid(envs.deep_sea(N, move_cost=c, stochastic=True))
    assert sol.value == pytest.approx(v_star, rel=1e-12, abs=1e-15)


def test_deep_sea_random_action_mapping():
    a = envs.deep_sea(6, randomize_actions=True, seed=1)
    b = envs.deep_sea(6, randomize_actions=True, seed=1)
    c = envs.deep_sea(6, randomize_actions=True, seed=2)
    np.testing.assert_array_equal(a.P, b.P)
    assert not np.array_equal(a.P, c.P) and not a.is_stationary
    assert mdpkit.solve(a).value == pytest.approx(1.0, abs=1e-12)
    # the "always action 1" policy no longer works for every mapping
    assert mdpkit.evaluate(a, np.ones((6, 6), dtype=np.int64)).value < 1.0


def test_deep_sea_is_sparse():
    m = envs.deep_sea(100, stochastic=True)
    assert np.count_nonzero(m.P_stages, axis=-1).max() <= 2
    assert m.density <= 2 / 100


# ----------------------------------------------------------------------------- chain
@pytest.mark.parametrize("N", [2, 3, 5, 12])
@pytest.mark.parametrize("H", [None, 1, 2, 4, 11, 40])
@pytest.mark.parametrize("small, large", [(0.001, 1.0), (0.5, 0.6), (1.0, 0.0)])
def test_chain_closed_form(N, H, small, large):
    m = envs.chain(N, H, small=small, large=large)
    H = N + 9 if H is None else H
    assert m.H == H
    v_star = max(large * max(H - N + 2, 0), small * (H - 1))
    assert _assert_valid(m).value == pytest.approx(v_star, abs=1e-12)


def test_chain_slip_and_sparsity():
    m = envs.chain(50, slip=0.25)
    P = m.P_stages[0]
    assert P[10, 1, 11] == 0.75 and P[10, 1, 9] == 0.25
    assert np.count_nonzero(P, axis=-1).max() == 2


# ----------------------------------------------------------------------------- gridworld
@pytest.mark.parametrize("H", [1, 3, 7, 8, 9, 20])
def test_gridworld_closed_forms(H):
    rows = [r for r in GRID.strip().splitlines()]
    start = next((i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "S")
    goal = next((i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "G")
    d = _bfs(GRID, start, goal)
    assert d == 6
    assert _assert_valid(envs.gridworld(GRID, H)).value == pytest.approx(max(H - d, 0), abs=1e-12)
    expected = 1.0 if d <= H - 1 else 0.0
    assert _assert_valid(envs.gridworld(GRID, H, absorbing=True)).value == pytest.approx(expected, abs=1e-12)


def test_gridworld_layout_syntax():
    as_str = envs.gridworld("\n  S.#\n  ..G\n", 5)
    as_list = envs.gridworld(["S.#", "..G"], 5)
    np.testing.assert_array_equal(as_str.P, as_list.P)
    assert envs.gridworld_cells(["S.#", "..G"]) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    assert as_list.S == 5 and as_list.A == 4
    # multiple starts: uniform initial distribution; custom reward characters
    m = envs.gridworld(["S.a", "S.G"], 3, rewards={"G": 0.5, "a": 0.25})
    np.testing.assert_array_equal(m.mu0, [0.5, 0, 0, 0.5, 0, 0])
    np.testing.assert_array_equal(m.R[0, :, 0], [0, 0, 0.25, 0, 0, 0.5])


def test_gridworld_moves_and_slip():
    m = envs.gridworld(["S..", "..."], 2, slip=0.4)
    P = m.P_stages[0]
    # from (0,1) = state 1, action right -> (0,2) = state 2 with 1 - slip + slip/4
    assert P[1, 1, 2] == pytest.approx(0.7)
    # action up is blocked (stay, 0.6 + 0.1); slips go right, down and left with 0.1 each
    np.testing.assert_allclose(P[1, 0], [0.1, 0.7, 0.1, 0, 0.1, 0], atol=1e-15)
    assert np.count_nonzero(P, axis=-1).max() <= 5


def test_gridworld_absorbing_exit():
    m = envs.gridworld(["SG"], 4, absorbing=True)
    assert m.S == 3
    exit_ = 2
    np.testing.assert_array_equal(m.P_stages[0, 1, :, exit_], 1.0)
    np.testing.assert_array_equal(m.P_stages[0, exit_, :, exit_], 1.0)
    assert (m.R[:, exit_] == 0).all()
    assert mdpkit.solve(m).value == 1.0


# ----------------------------------------------------------------------------- bandit
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_bandit_closed_form(means):
    m = envs.bandit(means)
    assert (m.S, m.H, m.A, m.reward_noise) == (1, 1, len(means), "bernoulli")
    assert mdpkit.solve(m).value == max(means)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("call, word", [
    (lambda: envs.random_mdp(0, 2, 2), "S"),
    (lambda: envs.random_mdp(2, 2.0, 2), "A"),
    (lambda: envs.random_mdp(2, 2, -1), "H"),
    (lambda: envs.random_mdp(2, 2, 2, concentration=0), "concentration"),
    (lambda: envs.random_mdp(2, 2, 2, concentration=float("nan")), "concentration"),
    (lambda: envs.random_mdp(2, 2, 2, n_successors=3), "n_successors"),
    (lambda: envs.random_mdp(2, 2, 2, reward="gaussian"), "reward"),
    (lambda: envs.random_mdp(2, 2, 2, stationary="no"), "stationary"),
    (lambda: envs.random_mdp(2, 2, 2, seed=-1), "seed"),
    (lambda: envs.random_mdp(2, 2, 2, seed="x"), "seed"),
    (lambda: envs.random_mdp(2, 2, 2, reward_noise="normal"), "reward_noise"),
    (lambda: envs.random_mdp(2, 2, 2, mu0=5), "mu0"),
    (lambda: envs.riverswim(1, 5), "S"),
    (lambda: envs.riverswim(5, 0), "H"),
    (lambda: envs.riverswim(5, 5, p_right=0.7, p_left=0.5), "p_right"),
    (lambda: envs.riverswim(5, 5, p_left_last=1.5), "p_left_last"),
    (lambda: envs.riverswim(5, 5, large=2.0), "large"),
    (lambda: envs.deep_sea(0), "N"),
    (lambda: envs.deep_sea(5, move_cost=-0.1), "move_cost"),
    (lambda: envs.deep_sea(5, stochastic=1), "stochastic"),
    (lambda: envs.chain(1), "N"),
    (lambda: envs.chain(5, slip=1.1), "slip"),
    (lambda: envs.chain(5, small="a"), "small"),
    (lambda: envs.gridworld(["S#", "G"], 3), "layout"),
    (lambda: envs.gridworld(["..G"], 3), "start"),
    (lambda: envs.gridworld(["S.x"], 3), r"layout\[0\]\[2\]"),
    (lambda: envs.gridworld(["S.x"], 3, rewards={"x": 1.5}), "rewards"),
    (lambda: envs.gridworld(["S.G"], 3, rewards={"#": 1.0}), "rewards"),
    (lambda: envs.gridworld(42, 3), "layout"),
    (lambda: envs.gridworld([], 3), "layout"),
    (lambda: envs.gridworld(["S.G"], 0), "H"),
    (lambda: envs.bandit([]), "means"),
    (lambda: envs.bandit([0.5, 1.2]), "means"),
    (lambda: envs.bandit([[0.5]]), "means"),
])
def test_bad_parameters_raise_value_error_naming_them(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# ----------------------------------------------------------------------------- built sparse
# The dense constructions these instances used before they were built in CSR form, kept as the
# reference: the CSR builds must give the same model, float for float.
def _dense_riverswim(S, H, p_right=0.35, p_left=0.05, p_right_first=0.6, p_left_last=0.4):
    P = np.zeros((S, 2, S))
    idx = np.arange(S)
    P[idx, 0, np.maximum(idx - 1, 0)] = 1.0
    inner = idx[1:-1]
    P[inner, 1, inner - 1] = p_left
    P[inner, 1, inner + 1] = p_right
    P[inner, 1, inner] = 1.0 - p_right - p_left
    P[0, 1, 0], P[0, 1, 1] = 1.0 - p_right_first, p_right_first
    P[S - 1, 1, S - 2], P[S - 1, 1, S - 1] = p_left_last, 1.0 - p_left_last
    return P[None]


def _dense_chain(N, slip=0.0):
    idx = np.arange(N)
    left, right = np.maximum(idx - 1, 0), np.minimum(idx + 1, N - 1)
    P = np.zeros((N, 2, N))
    P[idx, 0, left] += 1.0 - slip
    P[idx, 0, right] += slip
    P[idx, 1, right] += 1.0 - slip
    P[idx, 1, left] += slip
    return P[None]


def _dense_deep_sea(N, stochastic=False, randomize_actions=False, seed=None):
    p = 1.0 - 1.0 / N if stochastic else 1.0
    cols = np.arange(N)
    left, right = np.maximum(cols - 1, 0), np.minimum(cols + 1, N - 1)
    P = np.zeros((N, 2, N))
    P[cols, 0, left] = 1.0
    P[cols, 1, right] += p
    P[cols, 1, cols] += 1.0 - p
    if not randomize_actions:
        return P[None]
    flip = np.random.default_rng(seed).integers(0, 2, size=(N, N)).astype(bool)
    return np.where(flip[:, :, None, None], P[None, :, ::-1, :], P[None])


def _dense_gridworld(layout, slip=0.0, absorbing=False, rewards=None):
    rows = [r.strip() for r in layout.strip("\n").splitlines() if r.strip()]
    cells = envs.gridworld_cells(rows)
    index = {cell: k for k, cell in enumerate(cells)}
    n = len(cells)
    table = {"G": 1.0} if rewards is None else rewards
    reward_of = np.array([table.get(rows[i][j], 0.0) for i, j in cells])
    S = n + 1 if absorbing else n
    target = np.array([[index.get((i + di, j + dj), k) for di, dj in envs.GRID_MOVES]
                       for k, (i, j) in enumerate(cells)])
    move = np.full((4, 4), slip / 4.0) + np.eye(4) * (1.0 - slip)
    P = np.zeros((S, 4, S))
    for a in range(4):
        for m in range(4):
            np.add.at(P[:, a, :], (np.arange(n), target[:, m]), move[a, m])
    if absorbing:
        exits = np.flatnonzero(reward_of > 0)
        P[exits] = 0.0
        P[exits, :, n] = 1.0
        P[n, :, n] = 1.0
    return P[None]


def _dense_random_mdp(S, A, H, n_successors, stationary=True, concentration=1.0, seed=None):
    rng = np.random.default_rng(seed)
    G = 1 if stationary else H
    n_rows = G * S * A
    weights = rng.dirichlet(np.full(n_successors, concentration), size=n_rows)
    succ = np.argpartition(rng.random((n_rows, S)), n_successors - 1, axis=1)[:, :n_successors]
    P = np.zeros((n_rows, S))
    np.put_along_axis(P, succ, weights, axis=1)
    return P.reshape(G, S, A, S)


SPARSE_BUILDS = [
    (lambda: envs.riverswim(2, 3), lambda: _dense_riverswim(2, 3)),
    (lambda: envs.riverswim(9, 4), lambda: _dense_riverswim(9, 4)),
    (lambda: envs.riverswim(7, 4, p_right=0.7, p_left=0.3, p_right_first=1.0),  # zero "stay" entries
     lambda: _dense_riverswim(7, 4, p_right=0.7, p_left=0.3, p_right_first=1.0)),
    (lambda: envs.riverswim(6, 2, p_left=0.0, p_left_last=0.0), lambda: _dense_riverswim(6, 2, p_left=0.0, p_left_last=0.0)),
    (lambda: envs.chain(2), lambda: _dense_chain(2)),
    (lambda: envs.chain(8, slip=0.1), lambda: _dense_chain(8, slip=0.1)),
    (lambda: envs.chain(5, slip=0.5), lambda: _dense_chain(5, slip=0.5)),
    (lambda: envs.chain(4, slip=1.0), lambda: _dense_chain(4, slip=1.0)),
    (lambda: envs.deep_sea(1), lambda: _dense_deep_sea(1)),
    (lambda: envs.deep_sea(6), lambda: _dense_deep_sea(6)),
    (lambda: envs.deep_sea(7, stochastic=True), lambda: _dense_deep_sea(7, stochastic=True)),
    (lambda: envs.deep_sea(6, stochastic=True, randomize_actions=True, seed=3),
     lambda: _dense_deep_sea(6, stochastic=True, randomize_actions=True, seed=3)),
    (lambda: envs.gridworld(GRID, 12), lambda: _dense_gridworld(GRID)),
    (lambda: envs.gridworld(GRID, 5, slip=0.3, absorbing=True), lambda: _dense_gridworld(GRID, 0.3, True)),
    (lambda: envs.gridworld("S.x\n.#G", 4, slip=1.0, absorbing=True, rewards={"G": 1.0, "x": 0.5}),
     lambda: _dense_gridworld("S.x\n.#G", 1.0, True, {"G": 1.0, "x": 0.5})),
    (lambda: envs.random_mdp(9, 3, 4, n_successors=3, seed=1), lambda: _dense_random_mdp(9, 3, 4, 3, seed=1)),
    (lambda: envs.random_mdp(12, 2, 3, n_successors=1, stationary=False, seed=2),
     lambda: _dense_random_mdp(12, 2, 3, 1, stationary=False, seed=2)),
    (lambda: envs.random_mdp(10, 2, 3, n_successors=4, concentration=1e-3, seed=4),  # zero weights occur
     lambda: _dense_random_mdp(10, 2, 3, 4, concentration=1e-3, seed=4)),
    (lambda: envs.random_mdp(2500, 2, 2, n_successors=2, seed=6),  # 3 chunks of successor draws
     lambda: _dense_random_mdp(2500, 2, 2, 2, seed=6)),
]


@pytest.mark.parametrize("make, make_dense", SPARSE_BUILDS)
def test_sparse_built_instances_equal_the_dense_construction(make, make_dense):
    mdp = make()
    P_stages = make_dense()
    dense = TabularMDP(np.broadcast_to(P_stages, (mdp.H,) + P_stages.shape[1:]), mdp.R, mdp.mu0) \
        if P_stages.shape[0] > 1 else TabularMDP.stationary(P_stages[0], mdp.R, mdp.H, mdp.mu0)
    assert not mdp.has_dense_transitions  # built from CSR
    a, b = mdp.sparse_transitions(), dense.sparse_transitions()
    for x, y in ((a.indptr, b.indptr), (a.indices, b.indices), (a.data, b.data)):
        assert np.array_equal(x, y)
    assert mdp.density == dense.density and mdp.is_stationary == dense.is_stationary
    for method in ("auto", "dense", "sparse"):
        s, t = mdpkit.solve(mdp, method=method), mdpkit.solve(dense, method=method)
        assert s.method == t.method and np.array_equal(s.Q, t.Q) and np.array_equal(s.V, t.V)
    assert np.array_equal(mdp.P_stages, P_stages)
