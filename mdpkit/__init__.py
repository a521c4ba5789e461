"""mdpkit: exact tabular MDP models and solvers, instances and provably-efficient RL algorithms."""
from .mdp import SparseTransitions, TabularMDP
from .solvers import Solution, evaluate, solve

__all__ = ["SparseTransitions", "Solution", "TabularMDP", "evaluate", "solve"]
__version__ = "0.1.0"
