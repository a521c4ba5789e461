"""mdpkit: exact tabular MDP models and solvers, instances and provably-efficient RL algorithms."""
from .mdp import SparseTransitions, TabularMDP
from .simulation import Trajectories, simulate
from .solvers import Solution, bellman_residual, evaluate, solve

__all__ = [
    "Solution",
    "SparseTransitions",
    "TabularMDP",
    "Trajectories",
    "bellman_residual",
    "evaluate",
    "simulate",
    "solve",
]
__version__ = "0.1.0"
