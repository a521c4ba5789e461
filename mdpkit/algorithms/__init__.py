"""Provably-efficient algorithms, one module per algorithm, each with ``run(...)``.

Tabular MDPs: :mod:`ucbvi` (UCBVI-CH/BF), :mod:`stepmix` (StepMix, EpsMix, offline baseline).
Preference games: :mod:`nash_mp`, :mod:`nash_md`, :mod:`mmd`, :mod:`mwu`, :mod:`nash_mp_approx`.

Every MDP algorithm returns a :class:`~mdpkit.algorithms.results.RunResult` whose per-episode
``values`` are exact values of the deployed policies under the true model.
"""
from .results import RunResult

__all__ = ["RunResult"]
