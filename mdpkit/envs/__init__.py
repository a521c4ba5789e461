"""Instance library: functions returning validated :class:`~mdpkit.TabularMDP` models.

========================  ==========================================================
:func:`random_mdp`        Dirichlet transitions (optionally sparse), random rewards
:func:`riverswim`         RiverSwim chain (Strehl & Littman 2008; Osband et al. 2013)
:func:`deep_sea`          bsuite Deep Sea, deep exploration; ``V* = 1``
:func:`chain`             n-chain (Osband et al. 2016); closed-form ``V*``
:func:`gridworld`         gridworld from a text layout; closed-form ``V*``
:func:`bandit`            K-armed Bernoulli bandit as a one-step MDP; ``V* = max(means)``
========================  ==========================================================

Each instance's docstring says what makes it hard and gives its optimal value in closed form
where one exists.
"""
from .tabular import GRID_MOVES, bandit, chain, deep_sea, gridworld, gridworld_cells, random_mdp, riverswim

__all__ = ["GRID_MOVES", "bandit", "chain", "deep_sea", "gridworld", "gridworld_cells", "random_mdp", "riverswim"]
