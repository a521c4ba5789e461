"""mdpkit: exact tabular MDP models and solvers, instances and provably-efficient RL algorithms.

Submodules and the names below are imported on first access (PEP 562 module ``__getattr__``):
``import mdpkit`` loads neither numba nor scipy, so a command that needs one solver does not pay
for the kernels, LP machinery and game solvers it does not use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: Public name -> submodule (relative to ``mdpkit``) that defines it.
_LAZY_ATTRIBUTES = {
    "NashSolution": "games", "PreferenceGame": "games", "regularized_nash": "games",
    "unregularized_nash": "games",
    "Exploration": "linear", "LinearMixtureMDP": "linear", "PlanResult": "linear",
    "LowRankMarkovGame": "lowrank", "LowRankMDP": "lowrank",
    "MarkovGame": "markov_game", "nash_gap": "markov_game", "solve_game": "markov_game",
    "SparseTransitions": "mdp", "TabularMDP": "mdp",
    "Trajectories": "simulation", "simulate": "simulation",
    "Solution": "solvers.exact", "bellman_residual": "solvers.exact", "evaluate": "solvers.exact",
    "solve": "solvers.exact",
    "DiscountedSolution": "solvers.discounted", "policy_iteration": "solvers.discounted",
    "value_iteration": "solvers.discounted",
    "InfeasibleError": "solvers.lp", "solve_constrained": "solvers.lp", "solve_lp": "solvers.lp",
    "MatrixGameSolution": "markov_game", "solve_matrix_game": "markov_game",
    "AverageRewardSolution": "solvers.average_reward", "average_reward_lp": "solvers.average_reward",
    "relative_value_iteration": "solvers.average_reward", "solve_finite_horizon": "solvers.discounted",
}

#: Submodules reachable as attributes of ``mdpkit`` without an explicit import.
_LAZY_SUBMODULES = ("algorithms", "audit", "convert", "envs", "games", "gym", "learners", "linear", "lowrank",
                    "markov_game", "mdp", "simulation", "solvers", "testing")

__all__ = [
    "LowRankMDP",
    "LowRankMarkovGame",
    "MarkovGame",
    "Exploration",
    "LinearMixtureMDP",
    "PlanResult",
    "DiscountedSolution",
    "InfeasibleError",
    "NashSolution",
    "PreferenceGame",
    "Solution",
    "SparseTransitions",
    "TabularMDP",
    "Trajectories",
    "bellman_residual",
    "algorithms",
    "audit",
    "envs",
    "evaluate",
    "games",
    "nash_gap",
    "regularized_nash",
    "policy_iteration",
    "simulate",
    "solve",
    "solve_game",
    "solve_constrained",
    "solve_lp",
    "solvers",
    "unregularized_nash",
    "value_iteration",
    "learners",
    "convert",
    "MatrixGameSolution",
    "solve_matrix_game",
    "AverageRewardSolution",
    "average_reward_lp",
    "relative_value_iteration",
    "solve_finite_horizon",
]


def __getattr__(name: str):
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_ATTRIBUTES[name]}"), name)
        globals()[name] = value  # later accesses are plain attribute lookups
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from . import algorithms, audit, convert, envs, games, learners, solvers
    from .games import NashSolution, PreferenceGame, regularized_nash, unregularized_nash
    from .linear import Exploration, LinearMixtureMDP, PlanResult
    from .lowrank import LowRankMarkovGame, LowRankMDP
    from .markov_game import MarkovGame, MatrixGameSolution, nash_gap, solve_game, solve_matrix_game
    from .mdp import SparseTransitions, TabularMDP
    from .simulation import Trajectories, simulate
    from .solvers import Solution, bellman_residual, evaluate, solve
    from .solvers.average_reward import AverageRewardSolution, average_reward_lp, relative_value_iteration
    from .solvers.discounted import DiscountedSolution, policy_iteration, solve_finite_horizon, value_iteration
    from .solvers.lp import InfeasibleError, solve_constrained, solve_lp
