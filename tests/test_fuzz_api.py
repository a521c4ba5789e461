"""Fuzzing the public API with malformed arguments.

Every call below passes valid arguments except one, which is replaced by a malformed value
(wrong type, wrong shape, NaN/inf, complex, huge, negative, a model of the wrong class...).
The property: the call either returns a result without NaN, or raises ``ValueError`` /
``TypeError`` whose message names the malformed argument -- never an ``AttributeError``, a
``MemoryError``, a floating-point warning or another library's exception.

Two layers: an exhaustive grid over (call, argument, scalar/model pool) -- deterministic and
complete for the pool -- and a hypothesis test that mutates array arguments (an entry set to
NaN/inf/huge/negative/complex, an axis dropped or added) at a drawn position.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit import envs, games, markov_game
from mdpkit.algorithms import (
    contrastive_ucb,
    hf_rfe,
    lsvi_ucb,
    mmd,
    mwu,
    nash_md,
    nash_mp,
    nash_mp_approx,
    stepmix,
    ucbvi,
    ucrl_rfe,
)
from mdpkit.solvers import discounted

# ----------------------------------------------------------------------------- valid fixtures
MDP = envs.random_mdp(3, 2, 2, seed=0)
NONSTAT = envs.random_mdp(3, 2, 2, stationary=False, seed=1)
LMDP = envs.random_linear_mixture(2, 2, 2, 2, seed=0)
LRMDP = envs.random_lowrank_mdp(3, 2, 2, 2, seed=0)
LRGAME = envs.random_lowrank_game(2, 2, 2, 2, 2, seed=0)
MGAME = LRGAME.to_game()
PGAME = envs.random_preference_game(3, 0.5, seed=0)
UNIFORM = np.full((MDP.H, MDP.S, MDP.A), 1.0 / MDP.A)
DET = np.zeros((MDP.H, MDP.S), dtype=np.int64)
MU = np.full((MGAME.H, MGAME.S, MGAME.A), 1.0 / MGAME.A)
NU = np.full((MGAME.H, MGAME.S, MGAME.B), 1.0 / MGAME.B)
EXPLORATION = hf_rfe.explore(LMDP, K=2, seed=0)

# Calls: (label, function, valid keyword arguments). Every argument is fuzzed in turn.
SITES = [
    ("TabularMDP", mdpkit.TabularMDP, dict(P=NONSTAT.P, R=NONSTAT.R, mu0=0)),
    ("TabularMDP.stationary", mdpkit.TabularMDP.stationary,
     dict(P=MDP.P_stages[0], R=MDP.R[0], H=2, mu0=MDP.mu0, reward_noise="bernoulli")),
    ("with_rewards", MDP.with_rewards, dict(R=MDP.R)),
    ("solve", mdpkit.solve, dict(mdp=MDP, rewards=MDP.R, method="dense")),
    ("evaluate", mdpkit.evaluate, dict(mdp=MDP, policy=UNIFORM, rewards=MDP.R, method="sparse")),
    ("bellman_residual", mdpkit.bellman_residual, dict(mdp=MDP, V=np.zeros((MDP.H + 1, MDP.S)), rewards=MDP.R)),
    ("simulate", mdpkit.simulate, dict(mdp=MDP, policy=DET, n_episodes=3, seed=0)),
    ("value_iteration", discounted.value_iteration,
     dict(P=MDP.P_stages[0], R=MDP.R[0], gamma=0.9, tol=1e-6, max_iter=50, V0=np.zeros(MDP.S))),
    ("policy_iteration", discounted.policy_iteration, dict(P=MDP.P_stages[0], R=MDP.R[0], gamma=0.9, max_iter=5)),
    ("bellman_optimality_operator", discounted.bellman_optimality_operator,
     dict(P=MDP.P_stages[0], R=MDP.R[0], gamma=0.5, V=np.zeros(MDP.S))),
    ("PreferenceGame", mdpkit.PreferenceGame, dict(P=PGAME.P, mu=PGAME.mu, beta=0.5)),
    ("regularized_nash", mdpkit.regularized_nash, dict(game=PGAME, continuation_start=0.1, max_iter=50)),
    ("unregularized_nash", mdpkit.unregularized_nash, dict(game=PGAME)),
    ("best_response", games.best_response, dict(game=PGAME, pi=PGAME.mu)),
    ("exploitability", games.exploitability, dict(game=PGAME, pi=PGAME.mu, regularized=True)),
    ("duality_gap", games.duality_gap, dict(game=PGAME, pi=PGAME.mu, opponent=PGAME.mu)),
    ("fixed_point_residual", games.fixed_point_residual, dict(game=PGAME, log_pi=PGAME.log_mu)),
    ("kl", games.kl, dict(p=PGAME.mu, q=PGAME.mu)),
    ("MarkovGame", mdpkit.MarkovGame, dict(P=MGAME.P, R=MGAME.R, mu0=MGAME.mu0)),
    ("solve_game", mdpkit.solve_game, dict(game=MGAME)),
    ("matrix_game", markov_game.matrix_game, dict(M=MGAME.R[0, 0])),
    ("nash_gap", mdpkit.nash_gap, dict(game=MGAME, mu=MU, nu=NU)),
    ("game_value", markov_game.game_value, dict(game=MGAME, mu=MU, nu=NU)),
    ("LinearMixtureMDP", mdpkit.LinearMixtureMDP, dict(phi=LMDP.phi, theta=LMDP.theta, H=LMDP.H, mu0=LMDP.mu0)),
    ("LowRankMDP", mdpkit.LowRankMDP, dict(phi=LRMDP.phi, psi=LRMDP.psi, R=LRMDP.R, mu0=LRMDP.mu0)),
    ("Exploration.plan", EXPLORATION.plan, dict(R=np.zeros((LMDP.H, LMDP.S, LMDP.A)))),
    ("random_mdp", envs.random_mdp, dict(S=3, A=2, H=2, concentration=1.0, n_successors=2, seed=0)),
    ("riverswim", envs.riverswim, dict(S=3, H=2, p_right=0.35, small=0.005)),
    ("deep_sea", envs.deep_sea, dict(N=3, move_cost=0.01, seed=0)),
    ("chain", envs.chain, dict(N=3, H=4, slip=0.1)),
    ("gridworld", envs.gridworld, dict(layout=["S.G"], H=3, slip=0.1)),
    ("bandit", envs.bandit, dict(means=[0.2, 0.5])),
    ("random_linear_mixture", envs.random_linear_mixture, dict(S=2, A=2, d=2, H=2, seed=0, concentration=1.0)),
    ("three_state_hard", envs.three_state_hard, dict(d=2, H=2, Delta=0.1, seed=0)),
    ("random_lowrank_mdp", envs.random_lowrank_mdp, dict(S=3, A=2, H=2, d=2, seed=0)),
    ("block_mdp", envs.block_mdp, dict(n_latent=2, obs_per_latent=2, A=2, H=2, seed=0)),
    ("combination_lock", envs.combination_lock, dict(H=2, A=2, obs_per_state=2, seed=0)),
    ("random_lowrank_game", envs.random_lowrank_game, dict(S=2, A=2, B=2, H=2, d=2, seed=0)),
    ("random_preference_game", envs.random_preference_game, dict(n=3, beta=0.1, scale=3.0, seed=0)),
    ("bradley_terry_game", envs.bradley_terry_game, dict(rewards=[0.0, 1.0], beta=0.1)),
    ("cyclic_game", envs.cyclic_game, dict(n=3, beta=0.1, p=1.0)),
    ("dice_game", envs.dice_game, dict(dice=[[1, 2, 3], [2, 2, 2]], beta=0.1)),
    ("nontransitive_dice_game", envs.nontransitive_dice_game, dict(beta=0.1)),
    ("ucrl_rfe_hard", envs.ucrl_rfe_hard, dict(d=2, H=2, alpha=0.5, seed=0)),
    ("long_horizon_two_state", envs.long_horizon_two_state, dict(d=2, H=3, rel_gap=0.5, seed=0)),
    ("sign_actions", envs.sign_actions, dict(d=3)),
    ("LowRankMarkovGame", mdpkit.LowRankMarkovGame, dict(phi=LRGAME.phi, psi=LRGAME.psi, R=LRGAME.R,
                                                         mu0=LRGAME.mu0)),
    ("coarse_correlated_equilibrium", markov_game.coarse_correlated_equilibrium,
     dict(Q_max=MGAME.R[0, 0], Q_min=MGAME.R[0, 0])),
    ("best_response_to_max", markov_game.best_response_to_max, dict(game=MGAME, mu=MU)),
    ("ucbvi.run", ucbvi.run, dict(mdp=MDP, K=2, seed=0, delta=0.05, bonus_scale=1.0)),
    ("stepmix.run", stepmix.run, dict(mdp=MDP, baseline=DET, alpha=0.1, K=2, seed=0, delta=0.05,
                                      bonus_scale=1.0, pessimism_scale=1.0)),
    ("stepmix.run_offline", stepmix.run_offline, dict(mdp=MDP, behaviour_policy=DET, n_trajectories=2, alpha=0.1,
                                                      K=2, seed=0, delta=0.05)),
    ("hf_rfe.explore", hf_rfe.explore, dict(lmdp=LMDP, K=2, seed=0, delta=0.05, beta_scale=1.0, n_moments=2)),
    ("ucrl_rfe.explore", ucrl_rfe.explore, dict(lmdp=LMDP, K=2, seed=0, delta=0.05, beta_scale=1.0)),
    ("lsvi_ucb.run", lsvi_ucb.run, dict(lrmdp=LRMDP, K=2, seed=0, beta=1.0, bonus_scale=1.0, ridge=1.0)),
    ("contrastive_ucb.run", contrastive_ucb.run, dict(lrmdp=LRMDP, K=2, seed=0, beta=1.0, bonus_scale=1.0,
                                                      ridge=1.0, n_negatives=1, max_iter=5)),
    ("contrastive_ucb.run_game", contrastive_ucb.run_game, dict(lrgame=LRGAME, K=2, seed=0, bonus_scale=1.0,
                                                                max_iter=5)),
    ("nash_md.run", nash_md.run, dict(game=PGAME, iters=2, eta=1.0, init=PGAME.mu)),
    ("nash_mp.run", nash_mp.run, dict(game=PGAME, iters=2, eta=1.0, init=PGAME.mu)),
    ("mmd.run", mmd.run, dict(game=PGAME, iters=2, eta=1.0, init=PGAME.mu)),
    ("mwu.run", mwu.run, dict(game=PGAME, iters=2, eta=1.0, init=PGAME.mu)),
    ("nash_mp_approx.run", nash_mp_approx.run, dict(game=PGAME, iters=2, seed=0, eta=1.0, init=PGAME.mu,
                                                    inner_steps=2, batch_size=2)),
]

#: Arguments that are labels only (any value is acceptable, nothing to validate).
NOT_FUZZED = {"name"}

# Models of every kind: passed where another kind (or an array) is expected.
MODELS = [MDP, LMDP, LRMDP, LRGAME, MGAME, PGAME, EXPLORATION]

SCALAR_POOL = [
    None, "3", b"3", [1, 2], (), {}, object(), True, np.bool_(False),
    -1, 0, 2.5, -0.5, 7, float("nan"), float("inf"), -float("inf"), 1e308, 1e-320,
    complex(0.5, 0.5), np.complex128(1.0), np.uint64(2**64 - 1), np.int8(-3), 2**63, 10**30,
    np.float32(0.5), np.array(0.5), np.array([0.5]), np.random.default_rng(0), np.random.SeedSequence(3),
]


def _ids(pool):
    return [f"{type(v).__name__}:{str(v)[:20]}" for v in pool]


# ----------------------------------------------------------------------------- the property
_NAME_CHARS = r"A-Za-z0-9_"


def _names_argument(message: str, name: str) -> bool:
    return re.search(rf"(?<![{_NAME_CHARS}]){re.escape(name)}(?![{_NAME_CHARS}])", message) is not None


def _nan_free(obj, seen=None) -> bool:
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return True
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return not (obj.dtype.kind in "fc" and np.isnan(obj).any())
    if isinstance(obj, (float, np.floating, complex)):
        return not np.isnan(obj)
    if isinstance(obj, (tuple, list)):
        return all(_nan_free(x, seen) for x in obj)
    if isinstance(obj, dict):
        return all(_nan_free(x, seen) for x in obj.values())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return all(_nan_free(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return True


def check_call(label, fn, kwargs, arg, value):
    """Call ``fn(**kwargs)`` with ``kwargs[arg] = value`` and check the property."""
    call = dict(kwargs)
    call[arg] = value
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        # Any warning (ComplexWarning on truncation, RuntimeWarning on overflow) is a failure.
        warnings.simplefilter("error")
        # value_iteration's documented warning for a tol below float resolution is not a failure.
        warnings.filterwarnings("default", message="value_iteration: error bound", category=RuntimeWarning)
        try:
            result = fn(**call)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert _names_argument(message, arg), (
                f"{label}({arg}={value!r}): {type(exc).__name__} does not name {arg!r}: {message}")
            assert type(exc).__module__.split(".")[0] in ("builtins", "mdpkit"), (
                f"{label}({arg}={value!r}): foreign exception {type(exc)!r}: {message}")
            return "raised"
        except Exception as exc:  # noqa: BLE001 - the point is to report any other failure
            pytest.fail(f"{label}({arg}={value!r}) raised {type(exc).__module__}.{type(exc).__name__}: {exc}")
    assert _nan_free(result), f"{label}({arg}={value!r}) returned NaN: {result!r}"
    return "accepted"


GRID = [(label, fn, kwargs, arg) for label, fn, kwargs in SITES for arg in kwargs if arg not in NOT_FUZZED]


@pytest.mark.parametrize("label, fn, kwargs, arg", GRID, ids=[f"{g[0]}-{g[3]}" for g in GRID])
def test_every_argument_rejects_the_scalar_pool_by_name(label, fn, kwargs, arg):
    outcomes = [check_call(label, fn, kwargs, arg, value) for value in SCALAR_POOL + MODELS]
    # Each argument rejects at least one member of the pool (the pool holds a None, a string,
    # an object and every model kind), so the check above ran on raised errors too.
    assert "raised" in outcomes


# ----------------------------------------------------------------------------- array mutations
ARRAY_ARGS = [(label, fn, kwargs, arg) for label, fn, kwargs, arg in GRID
              if isinstance(kwargs[arg], np.ndarray) and kwargs[arg].size > 0]

_MUTATIONS = ("nan", "inf", "huge", "negative", "complex", "drop_axis", "add_axis", "empty", "object",
              "transpose", "int_overflow")


def _mutate(arr: np.ndarray, kind: str, flat_index: int):
    arr = np.array(arr)
    idx = np.unravel_index(flat_index % arr.size, arr.shape)
    if kind in ("nan", "inf", "huge", "negative"):
        out = arr.astype(np.float64)
        out[idx] = {"nan": np.nan, "inf": np.inf, "huge": 1e308, "negative": -0.25}[kind]
        return out
    if kind == "complex":
        return arr.astype(np.complex128) + 1e-3j
    if kind == "drop_axis":
        return arr[0] if arr.ndim > 0 else arr
    if kind == "add_axis":
        return arr[None]
    if kind == "empty":
        return arr[..., :0]
    if kind == "object":
        out = arr.astype(object)
        out[idx] = "x"
        return out
    if kind == "transpose":
        return arr.T
    if kind == "int_overflow":
        out = np.zeros(arr.shape, dtype=np.uint64)
        out[idx] = np.iinfo(np.uint64).max
        return out
    raise AssertionError(kind)


@settings(max_examples=150, deadline=None)
@given(site=st.sampled_from(ARRAY_ARGS), kind=st.sampled_from(_MUTATIONS),
       flat_index=st.integers(0, 10**6))
def test_malformed_arrays_are_rejected_by_name(site, kind, flat_index):
    label, fn, kwargs, arg = site
    check_call(label, fn, kwargs, arg, _mutate(kwargs[arg], kind, flat_index))


# ----------------------------------------------------------------------------- the cases the issue measured
_U64_MAX = np.uint64(2**64 - 1)
ISSUE_CASES = [
    # (call, exception type, message pattern)
    (lambda: mdpkit.TabularMDP(np.ones((0, 2, 2, 2)) / 2, np.zeros((0, 2, 2)), 0), ValueError,
     r"^P must have at least one stage \(H >= 1\), got shape \(0, 2, 2, 2\)$"),
    (lambda: mdpkit.TabularMDP(NONSTAT.P.astype(complex), NONSTAT.R, 0), TypeError,
     r"^P must be real, got a complex array; the imaginary part is not dropped silently$"),
    (lambda: mdpkit.TabularMDP.stationary(MDP.P_stages[0], MDP.R[0] + 0j, 2, 0), TypeError, r"^R must be real"),
    (lambda: mdpkit.solve(MDP, rewards=np.full((2, 3, 2), 1e308)), ValueError,
     r"^rewards\[h=0, s=0, a=0\] = 1e\+308: the H = 2-stage return \(2 x this entry\) overflows float64"),
    (lambda: mdpkit.evaluate(MDP, DET, rewards=np.full((4, 2, 3, 2), 1e308)), ValueError,
     r"^rewards\[b=0, h=0, s=0, a=0\] = 1e\+308: the H = 2-stage return"),
    (lambda: discounted.value_iteration(MDP.P_stages[0], np.full((3, 2), 1e307), 0.9), ValueError,
     r"^R\[s=0, a=0\] = 1e\+307: the discounted return bound at gamma = 0\.9"),
    (lambda: mdpkit.simulate(MDP, DET, n_episodes=10**12, seed=0), ValueError,
     r"^n_episodes = 1000000000000 would need 5\.6e\+13 bytes for the states, actions and rewards of "
     r"H = 2 stages, more than this machine's .* bytes of memory$"),
    (lambda: mdpkit.regularized_nash(PGAME.P), TypeError,
     r"^game must be a mdpkit\.games\.PreferenceGame, got ndarray$"),
    (lambda: mdpkit.solve_game(MGAME.R), TypeError, r"^game must be a mdpkit\.MarkovGame, got ndarray$"),
    (lambda: ucbvi.run(MDP, K=2, seed="0"), TypeError,
     r"^seed must be a non-negative int or a numpy\.random\.SeedSequence, got str '0'$"),
    (lambda: ucbvi.run(MDP, K=2, seed=0, delta="0.1"), TypeError, r"^delta must be a number in \(0, 1\), got str '0\.1'$"),
    (lambda: hf_rfe.explore(LMDP, K=2, seed=0, beta_scale="1"), TypeError, r"^beta_scale must be a finite real number, got str '1'$"),
    (lambda: ucrl_rfe.explore(LMDP, K=2, seed=0, delta=None), TypeError, r"^delta must be a finite real number, got NoneType None$"),
    (lambda: lsvi_ucb.run(LRMDP, K=2, seed=1.5), TypeError, r"^seed must be a non-negative int"),
    (lambda: nash_mp_approx.run(PGAME, iters=1, seed=-1), ValueError, r"^seed must be a non-negative int"),
    (lambda: lsvi_ucb.run(MDP, K=2, seed=0), TypeError, r"^lrmdp must be a mdpkit\.LowRankMDP, got TabularMDP$"),
    (lambda: mdpkit.evaluate(MDP, np.array([[0, _U64_MAX, 0], [0, 0, 0]], dtype=np.uint64)), ValueError,
     r"^policy\[h=0, s=1\] = 18446744073709551615 is not in \[0, 2\)$"),
    (lambda: ucbvi.run(MDP, K=2**62, seed=0), ValueError, r"^K = 4611686018427387904 would need .* bytes"),
    (lambda: nash_md.run(PGAME, iters=2**62), ValueError, r"^iters = 4611686018427387904 would need"),
]


@pytest.mark.parametrize("call, exc_type, pattern", ISSUE_CASES, ids=[str(i) for i in range(len(ISSUE_CASES))])
def test_the_issue_cases_raise_clear_errors(call, exc_type, pattern):
    with pytest.raises(exc_type, match=pattern):
        call()
