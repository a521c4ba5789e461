"""Provably-efficient algorithms, one module per algorithm, each with ``run(...)``.

Tabular MDPs: :mod:`ucbvi` (UCBVI-CH/BF), :mod:`stepmix` (StepMix, EpsMix, offline baseline).
Preference games: :mod:`nash_mp`, :mod:`nash_md`, :mod:`mmd`, :mod:`mwu`, :mod:`nash_mp_approx`.

Every MDP algorithm returns a :class:`~mdpkit.algorithms.results.RunResult` whose per-episode
``values`` are exact values of the deployed policies under the true model.

Algorithm modules (and their numba kernels) load on first access: ``from mdpkit.algorithms
import mwu`` compiles nothing else.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["RunResult"]

_SUBMODULES = ("contrastive", "contrastive_ucb", "hf_rfe", "lsvi_ucb", "mmd", "mwu", "nash_md", "nash_mp",
               "nash_mp_approx", "results", "stepmix", "ucbvi", "ucrl_rfe")


def __getattr__(name: str):
    if name == "RunResult":
        from .results import RunResult

        globals()[name] = RunResult
        return RunResult
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .results import RunResult
