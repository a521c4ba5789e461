"""The result type shared by the episodic RL algorithms (UCBVI, StepMix, EpsMix, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import as_float_array, readonly


@dataclass(frozen=True)
class RunResult:
    """Per-episode exact quantities of one run of an episodic algorithm.

    Attributes
    ----------
    algorithm : str
        E.g. ``"ucbvi"``, ``"stepmix"``, ``"epsmix"``.
    values : ndarray, shape (K,)
        ``values[k] = mu0 . V^{pi_k}_0``: the EXACT expected return, under the true model, of the
        (possibly randomised) policy deployed in episode ``k`` -- never a sampled return.
    optimal_value : float
        ``mu0 . V*_0``.
    regret : ndarray, shape (K,)
        Cumulative regret ``sum_{j <= k} (optimal_value - values[j])``.
    seed : int or numpy.random.SeedSequence
        The seed the run was given (the same seed reproduces the run bit for bit).
    hyper : dict
        Every hyper-parameter that decides the run (theoretical constants and any practical
        scaling such as ``bonus_scale``), so a result documents how it was produced.
    extras : dict
        Algorithm-specific per-episode arrays (e.g. optimistic values, switch steps).
    baseline_value : float or None
        Conservative algorithms: exact value of the baseline policy.
    threshold : float or None
        ``(1 - alpha) * baseline_value``.
    violations : int or None
        Number of episodes with ``values < threshold``.

    All arrays are read-only.
    """

    algorithm: str
    values: np.ndarray
    optimal_value: float
    regret: np.ndarray
    seed: Any
    hyper: dict
    extras: dict = field(default_factory=dict)
    baseline_value: float | None = None
    threshold: float | None = None
    violations: int | None = None

    @property
    def K(self) -> int:
        """Number of episodes."""
        return int(self.values.shape[0])

    @property
    def per_episode_regret(self) -> np.ndarray:
        """``optimal_value - values``, shape (K,)."""
        return self.optimal_value - self.values

    def _extra(self, key: str) -> np.ndarray:
        if key not in self.extras:
            raise AttributeError(f"{self.algorithm!r} result has no {key!r} (extras hold {sorted(self.extras)})")
        return self.extras[key]

    @property
    def feature_angle(self) -> np.ndarray:
        """Representation-learning runs: ``extras["feature_angle"]``, shape (K,).

        The largest principal angle (radians) between ``span(phi_hat)`` and ``span(phi*)`` after
        episode ``k``. ``AttributeError`` for algorithms that do not learn features.
        """
        return self._extra("feature_angle")

    @property
    def nash_gap(self) -> np.ndarray:
        """Markov-game runs: ``extras["nash_gap"]``, shape (K,).

        The exact Nash gap ``V^{dagger, nu^k} - V^{mu^k, dagger}`` of the pair deployed in episode
        ``k``. ``AttributeError`` for single-agent algorithms.
        """
        return self._extra("nash_gap")

    @classmethod
    def from_values(cls, algorithm: str, values, optimal_value: float, *, seed, hyper: dict,
                    extras: dict | None = None, baseline_value: float | None = None,
                    alpha: float | None = None) -> "RunResult":
        """Build a result from the exact per-episode values; derives regret and, given
        ``baseline_value`` and ``alpha``, the threshold and the violation count.

        Parameters
        ----------
        algorithm : str
        values : array_like, shape (K,)
        optimal_value : float
        seed : int or SeedSequence
        hyper : dict
        extras : dict, optional
        baseline_value : float, optional
        alpha : float, optional
            Required with ``baseline_value``.
        """
        values = as_float_array("values", values, ndim=1, axis_names=("k",))
        regret = np.cumsum(float(optimal_value) - values)
        threshold = violations = None
        if baseline_value is not None:
            if alpha is None:
                raise ValueError("alpha is required with baseline_value")
            threshold = (1.0 - float(alpha)) * float(baseline_value)
            violations = int(np.count_nonzero(values < threshold))
            baseline_value = float(baseline_value)
        extras = dict(extras or {})
        for key, arr in extras.items():
            if isinstance(arr, np.ndarray):
                readonly(arr)
        return cls(algorithm=algorithm, values=readonly(values), optimal_value=float(optimal_value),
                   regret=readonly(regret), seed=seed, hyper=dict(hyper), extras=extras,
                   baseline_value=baseline_value, threshold=threshold, violations=violations)

    def __repr__(self) -> str:
        tail = "" if self.violations is None else f", violations={self.violations}"
        return (f"RunResult({self.algorithm}, K={self.K}, optimal_value={self.optimal_value:.6g}, "
                f"final regret={self.regret[-1]:.6g}{tail})")
