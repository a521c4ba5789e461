"""Instance library: functions returning validated :class:`~mdpkit.TabularMDP` models.

===============================  ==========================================================
:func:`random_mdp`               Dirichlet transitions (optionally sparse), random rewards
:func:`riverswim`                RiverSwim chain (Strehl & Littman 2008; Osband et al. 2013)
:func:`deep_sea`                 bsuite Deep Sea, deep exploration; ``V* = 1``
:func:`chain`                    n-chain (Osband et al. 2016); closed-form ``V*``
:func:`gridworld`                gridworld from a text layout; closed-form ``V*``
:func:`bandit`                   K-armed Bernoulli bandit as a one-step MDP; ``V* = max(means)``
:func:`frozen_lake`              FrozenLake 4x4 / 8x8 (slippery), rewards on transitions
:func:`cliff_walking`            CliffWalking: -1 per step, -100 for the cliff; ``V* = -13``
:func:`taxi`                     Taxi: pick up and drop off a passenger (S = 500, A = 6)
:func:`three_state_hard`         linear mixture Omega(d^2 eps^-2) lower-bound instance
:func:`ucrl_rfe_hard`            linear mixture UCRL-RFE lower-bound instance
:func:`long_horizon_two_state`   linear mixture where horizon-dependent methods pay for H
:func:`random_linear_mixture`    random linear mixture MDP with valid transitions
:func:`random_lowrank_mdp`       low-rank MDP P = <phi, psi> with S >> d
:func:`block_mdp`                block MDP: latent states emitting many observations
:func:`combination_lock`         rank-2 lock: reward only after H correct actions (V* = 1)
:func:`random_lowrank_game`      low-rank two-player zero-sum Markov game
:func:`random_preference_game`   preference game sigma(X - X^T) (intransitive in general)
:func:`bradley_terry_game`       transitive Bradley-Terry preferences
:func:`cyclic_game`              cyclic / rock-paper-scissors preferences
:func:`dice_game`                preferences between dice (win probabilities)
:func:`nontransitive_dice_game`  the non-transitive dice of the NLHF paper
===============================  ==========================================================

Each instance's docstring says what makes it hard and gives its optimal value in closed form
where one exists.
"""
import importlib
from typing import TYPE_CHECKING

#: Where each public name lives. Submodules load on first access (PEP 562): the low-rank and
#: preference instances pull in scipy, which `import mdpkit.envs` for a tabular instance (and
#: loading the claims registry) should not pay for.
_SUBMODULE_OF = {
    **dict.fromkeys(("SignInstance", "long_horizon_two_state", "random_linear_mixture", "sign_actions",
                     "three_state_hard", "ucrl_rfe_hard"), "linear"),
    **dict.fromkeys(("block_mdp", "combination_lock", "random_lowrank_game", "random_lowrank_mdp"), "lowrank"),
    **dict.fromkeys(("bradley_terry_game", "cyclic_game", "dice_game", "nontransitive_dice_game",
                     "random_preference_game"), "preference"),
    **dict.fromkeys(("FROZEN_LAKE_MAPS", "cliff_walking", "frozen_lake", "taxi"), "toy_text"),
    **dict.fromkeys(("GRID_MOVES", "bandit", "chain", "deep_sea", "gridworld", "gridworld_cells", "random_mdp",
                     "riverswim"), "tabular"),
}
_SUBMODULES = frozenset(_SUBMODULE_OF.values())

__all__ = [
    "block_mdp", "combination_lock", "random_lowrank_game", "random_lowrank_mdp",
    "SignInstance", "long_horizon_two_state", "random_linear_mixture", "sign_actions", "three_state_hard",
    "ucrl_rfe_hard",
    "bradley_terry_game", "cyclic_game", "dice_game", "nontransitive_dice_game", "random_preference_game",
   "GRID_MOVES", "bandit", "chain", "deep_sea", "gridworld", "gridworld_cells", "random_mdp", "riverswim",
    "FROZEN_LAKE_MAPS", "cliff_walking", "frozen_lake", "taxi"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value  # later accesses are plain attribute lookups
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from .linear import (SignInstance, long_horizon_two_state, random_linear_mixture, sign_actions,
                         three_state_hard, ucrl_rfe_hard)
    from .lowrank import block_mdp, combination_lock, random_lowrank_game, random_lowrank_mdp
    from .preference import (bradley_terry_game, cyclic_game, dice_game, nontransitive_dice_game,
                             random_preference_game)
    from .tabular import GRID_MOVES, bandit, chain, deep_sea, gridworld, gridworld_cells, random_mdp, riverswim
    from .toy_text import FROZEN_LAKE_MAPS, cliff_walking, frozen_lake, taxi
