"""mdpkit: exact tabular MDP models and solvers, instances and provably-efficient RL algorithms."""
from . import algorithms, audit, envs, games, solvers
from .games import NashSolution, PreferenceGame, regularized_nash, unregularized_nash
from .linear import Exploration, LinearMixtureMDP, PlanResult
from .lowrank import LowRankMarkovGame, LowRankMDP
from .markov_game import MarkovGame, nash_gap, solve_game
from .mdp import SparseTransitions, TabularMDP
from .simulation import Trajectories, simulate
from .solvers import Solution, bellman_residual, evaluate, solve
from .solvers.discounted import DiscountedSolution, policy_iteration, value_iteration
from .solvers.lp import InfeasibleError, solve_constrained, solve_lp

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
]
__version__ = "0.1.0"
