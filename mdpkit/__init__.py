"""mdpkit: exact tabular MDP models and solvers, instances and provably-efficient RL algorithms."""
from . import algorithms, envs, games, solvers
from .games import NashSolution, PreferenceGame, regularized_nash, unregularized_nash
from .mdp import SparseTransitions, TabularMDP
from .simulation import Trajectories, simulate
from .solvers import Solution, bellman_residual, evaluate, solve

__all__ = [
    "NashSolution",
    "PreferenceGame",
    "Solution",
    "SparseTransitions",
    "TabularMDP",
    "Trajectories",
    "bellman_residual",
    "algorithms",
    "envs",
    "evaluate",
    "games",
    "regularized_nash",
    "simulate",
    "solve",
    "solvers",
    "unregularized_nash",
]
__version__ = "0.1.0"
