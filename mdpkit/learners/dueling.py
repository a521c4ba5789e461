"""Exact audit of a dueling (preference) learner on a :class:`~mdpkit.PreferenceGame`.

Per round ``k`` (pseudocode)::

    (pi_k, opponent_k) = learner.propose()           # two distributions over the n responses
    y ~ pi_k,  y' ~ opponent_k,  o ~ Bernoulli(P[y, y'])
    learner.observe(y, y', o)                         # the only feedback: one sampled comparison
    kl_k = KL(pi*_beta || pi_k),  exploitability_k = e_beta(pi_k)     # exact, mdpkit.games

What crosses to the learner: a :class:`~.protocol.PreferenceSetting` (``n``, the number of
rounds, ``beta`` and a copy of the reference policy ``mu`` -- the regulariser is part of the
objective, so it is known), an ``int`` seed, and ``(y, y', o)`` as Python ints. Never ``P``.

Randomness: ``default_rng(seed)``, three doubles per round (``y``, ``y'``, ``o`` in that order),
drawn by inverse CDF (the first index whose cumulative mass exceeds the uniform, as the
simulator's ``_sample``). The exact audits are computed once per distinct ``pi_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _kernels
from .._validation import as_float_array, check_episodes, check_stochastic, readonly
from ..games import PreferenceGame, check_game, exploitability, kl, regularized_nash
from .harness import _check_learner, _root, learner_seed
from .protocol import PreferenceSetting

__all__ = ["DuelingAudit", "run_dueling"]


@dataclass(frozen=True)
class DuelingAudit:
    """Per-round exact quantities of a dueling learner's run.

    Attributes
    ----------
    algorithm : str
    policies : ndarray, shape (rounds, n)
        The learner's proposed ``pi_k`` (the policy it deploys).
    kl_to_equilibrium : ndarray, shape (rounds,)
        ``KL(pi*_beta || pi_k)``, exact.
    exploitability : ndarray, shape (rounds,)
        Regularised exploitability ``e_beta(pi_k)``, exact.
    equilibrium : ndarray, shape (n,)
        ``pi*_beta`` (:func:`mdpkit.regularized_nash`).
    seed : int or SeedSequence
    hyper : dict
    """

    algorithm: str
    policies: np.ndarray
    kl_to_equilibrium: np.ndarray
    exploitability: np.ndarray
    equilibrium: np.ndarray
    seed: object
    hyper: dict


def _distribution(name: str, x, n: int) -> np.ndarray:
    p = as_float_array(name, x, shape=(n,), axis_names=("y",))
    check_stochastic(name, p, ("y",))
    return p


def run_dueling(learner, game: PreferenceGame, *, rounds: int, seed) -> DuelingAudit:
    """Run a :class:`~.protocol.DuelingLearner` for ``rounds`` sampled comparisons.

    Parameters
    ----------
    learner : DuelingLearner
        ``start(setting, seed)``, ``propose() -> (pi, opponent)``, ``observe(y, y_prime, outcome)``.
    game : PreferenceGame
        ``beta > 0`` (the audit is against the regularised equilibrium).
    rounds : int
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    DuelingAudit
    """
    name = _check_learner(learner, ("start", "propose", "observe"))
    game = check_game(game)
    if game.beta == 0:
        raise ValueError("run_dueling audits against the regularised equilibrium: game.beta must be > 0")
    rounds = check_episodes(rounds, 24.0 + 8.0 * game.n, "the per-round policies and audits", name="rounds")
    root = _root(seed)
    n = game.n
    setting = PreferenceSetting(n=n, iters=rounds, beta=float(game.beta), mu=readonly(np.array(game.mu, copy=True)))
    seed_for_learner = learner_seed(root)
    learner.start(setting, seed_for_learner)
    star = regularized_nash(game)
    P = np.asarray(game.P)
    uniforms = np.random.default_rng(root).random((rounds, 3))
    policies = np.empty((rounds, n))
    kls, gaps = np.empty(rounds), np.empty(rounds)
    for k in range(rounds):
        pi, opponent = learner.propose()
        pi = _distribution(f"the first policy {name}.propose() returned in round {k}", pi, n)
        opponent = _distribution(f"the second policy {name}.propose() returned in round {k}", opponent, n)
        if k > 0 and np.array_equal(pi, policies[k - 1]):
            kls[k], gaps[k] = kls[k - 1], gaps[k - 1]
        else:
            kls[k] = kl(star.log_policy, np.log(pi), log=True) if np.all(pi > 0) else kl(star.policy, pi)
            gaps[k] = exploitability(game, pi)
        policies[k] = pi
        u = uniforms[k]
        y = int(np.searchsorted(_kernels.cumulative_rows(pi), u[0], side="right"))
        y_prime = int(np.searchsorted(_kernels.cumulative_rows(opponent), u[1], side="right"))
        learner.observe(y, y_prime, int(u[2] < P[y, y_prime]))
    hyper = dict(getattr(learner, "hyper", None) or {})
    hyper.update({"rounds": rounds, "learner_seed": seed_for_learner})
    return DuelingAudit(name, readonly(policies), readonly(kls), readonly(gaps), readonly(np.array(star.policy)),
                        seed, hyper)
