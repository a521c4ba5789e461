"""Shared pieces of the preference-game algorithms (Nash-MP, Nash-MD, MMD, MWU, approx. Nash-MP).

- :class:`PreferenceRunResult` -- the common result type;
- :class:`PreferenceOracle` -- all a learner of the game gets: ``n``, ``beta``, ``mu`` and
  preference queries (exact win rates, or sampled comparisons), each one counted;
- input checks for ``init``, ``eta`` and ``iters``;
- :func:`prox_step` -- the KL-proximal step with magnet ``mu`` that Nash-MP, MMD and the
  approximate Nash-MP target all share.

All updates are done on log-probabilities: for small ``beta`` the iterates' probabilities
underflow, their logits do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import (
    ArgumentTypeError,
    as_float_array,
    check_optional_seed,
    check_output_size,
    check_positive_int,
    check_real,
    check_stochastic,
    readonly,
)
from ..games import PreferenceGame, log_normalize
from ..games import check_game as _check_preference_game


@dataclass(frozen=True, eq=False)
class PreferenceRunResult:
    """Iterates of a preference-game algorithm.

    Attributes
    ----------
    policies : ndarray, shape (iters + 1, n)
        ``policies[k]`` is the k-th iterate (``policies[0]`` = ``init``): ``exp(log_policies)``.
        For small ``beta`` some probabilities are below the smallest float64 (``log pi`` spans
        up to ``1/beta``) and show as exact zeros here, so ``games.kl(star.policy, policies[k])``
        is ``inf`` although the exact KL is finite.
    log_policies : ndarray, shape (iters + 1, n)
        The iterates as computed: every update is done on logits and normalised with a
        log-sum-exp, so these are finite wherever the exact iterate is positive. Score them with
        ``games.kl(star.log_policy, log_policies[k], log=True)`` and
        ``games.exploitability(game, log_policies[k], log=True)``.
    queries : ndarray, shape (iters + 1,), int64
        Preference queries used to produce each iterate: a query is one evaluation of the
        preference oracle ``y -> P(y > pi)`` against one opponent policy (exact methods) or
        one sampled comparison (``nash_mp_approx``).
    average : ndarray, shape (iters + 1, n), or None
        Running average ``mean(policies[:k + 1])`` (MWU/SPO only).
    algorithm : str
    hyper : dict
        Hyper-parameters actually used (e.g. ``{"eta": 0.2}``).
    diagnostics : dict or None
        Only with ``run(..., record=True)`` (``None`` otherwise): what the run sent to its
        :class:`PreferenceOracle` and intermediate iterates, for audits (see each ``run``).
        Always ``"oracle_queries"`` (queries the oracle answered) and ``"opponents"``, shape
        ``(queries, n)``: every distribution sent to the oracle, in order.
    """

    policies: np.ndarray
    log_policies: np.ndarray
    queries: np.ndarray
    algorithm: str
    hyper: dict = field(default_factory=dict)
    average: np.ndarray | None = None
    diagnostics: dict | None = None

    @property
    def iters(self) -> int:
        return int(self.policies.shape[0] - 1)


class PreferenceOracle:
    """The learner's side of a :class:`~mdpkit.games.PreferenceGame`.

    What the NLHF setting gives a learner: the number of responses ``n``, the regularisation
    ``beta``, the reference policy ``mu`` (``log_mu``), and preference queries. The preference
    matrix is held in closures, not as an attribute: the update steps of Nash-MP, Nash-MD, MMD
    and approximate Nash-MP receive this object, never the game, so what they learn about ``P``
    goes through :meth:`win_rates` or :meth:`compare`, and every call is counted.

    Parameters
    ----------
    game : PreferenceGame
    record : bool
        Keep a copy of every distribution sent to :meth:`win_rates` (``opponents``) and of every
        sampled comparison (``compared``), for audits.

    Attributes
    ----------
    n : int
    beta : float
    mu, log_mu : ndarray, shape (n,), read-only
    queries : int
        Calls of :meth:`win_rates` so far.
    comparisons : int
        Comparisons answered by :meth:`compare` so far.
    """

    def __init__(self, game: PreferenceGame, *, record: bool = False):
        P = game.P
        self.n, self.beta, self.mu, self.log_mu = game.n, game.beta, game.mu, game.log_mu
        self.queries = 0
        self.comparisons = 0
        self._record = bool(record)
        self._opponents: list[np.ndarray] = []
        self._compared: list[np.ndarray] = []
        self._answer = lambda opponent: P @ opponent
        self._outcome = lambda y, y_opp, u: (u < P[y, y_opp]).astype(np.float64)

    def win_rates(self, opponent: np.ndarray) -> np.ndarray:
        """One query: ``P(y > opponent)`` for every response ``y``, shape ``(n,)``.

        ``opponent`` (shape ``(n,)``) is a distribution; with ``record`` a copy is kept.
        """
        self.queries += 1
        if self._record:
            self._opponents.append(np.array(opponent, dtype=np.float64))
        return self._answer(opponent)

    def compare(self, y: np.ndarray, y_opp: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Sampled comparisons: outcome ``i`` is ``1.0`` iff ``u[i] < P(y[i] > y_opp[i])``.

        Parameters
        ----------
        y, y_opp : ndarray of int, shape (m,)
            The compared responses.
        u : ndarray, shape (m,)
            Uniforms in ``[0, 1)`` (the learner's own stream: which comparisons it draws).

        Returns
        -------
        ndarray, shape (m,)
            Outcomes in ``{0.0, 1.0}``.
        """
        self.comparisons += len(u)
        if self._record:
            self._compared.append(np.column_stack([y, y_opp, u]).astype(np.float64))
        return self._outcome(y, y_opp, u)

    def opponents(self) -> np.ndarray:
        """The recorded opponents, shape ``(queries, n)`` (empty unless ``record``)."""
        return np.array(self._opponents, dtype=np.float64).reshape(-1, self.n)

    def compared(self) -> np.ndarray:
        """The recorded comparisons as rows ``(y, y_opp, u)``, shape ``(comparisons, 3)``."""
        if not self._compared:
            return np.zeros((0, 3))
        return np.concatenate(self._compared)


def as_oracle(source) -> "PreferenceOracle":
    """``source`` if it is a :class:`PreferenceOracle`, else the oracle of the game ``source``."""
    return source if isinstance(source, PreferenceOracle) else PreferenceOracle(check_game(source))


def check_record(record) -> bool:
    if not isinstance(record, (bool, np.bool_)):
        raise ArgumentTypeError(f"record must be True or False, got {record!r}")
    return bool(record)


def check_game(game) -> PreferenceGame:
    """``game`` must be a PreferenceGame (an :class:`~mdpkit._validation.ArgumentTypeError` otherwise)."""
    return _check_preference_game(game)


def check_iters(iters, game: PreferenceGame | None = None) -> int:
    """``iters >= 0``; with ``game``, the ``(iters + 1, n)`` outputs must fit in memory."""
    iters = check_positive_int("iters", iters, minimum=0)
    if game is not None:
        # policies and log_policies, float64 each (plus the queries)
        check_output_size("iters", iters, (iters + 1) * (16.0 * game.n + 8.0),
                          f"the (iters + 1, n = {game.n}) policies and log-policies")
    return iters


def check_seed_argument(seed):
    """``seed`` of a deterministic method: unused, but a malformed one is still reported."""
    return check_optional_seed(seed)


def check_step(name: str, value) -> float:
    """A positive finite step size."""
    return check_real(name, value, lo=0.0, lo_open=True)


def check_logits_finite(name: str, value: float, bound: float, what: str) -> None:
    """Raise unless ``bound`` -- a bound on the magnitude of the logits a step of size ``value``
    produces, e.g. ``eta |log mu| + eta / beta`` -- is finite: an overflowed logit turns into
    ``nan`` at the next normalisation (``inf - inf``)."""
    if not np.isfinite(bound):
        raise ValueError(f"{name} = {value!r} makes the logits ({what}) overflow float64")


def initial_log_policy(game: PreferenceGame, init) -> np.ndarray:
    """log of ``init`` (default: ``game.mu``); ``init`` must be a full-support distribution."""
    if init is None:
        return game.log_mu.copy()
    pi0 = as_float_array("init", init, shape=(game.n,), axis_names=("y",))
    check_stochastic("init", pi0, axis_names=("y",))
    if (pi0 <= 0).any():
        y = int(np.argmax(pi0 <= 0))
        raise ValueError(f"init[y={y}] = {float(pi0[y])!r}: the initial policy must have full support")
    return np.log(pi0)


def prox_step(game, log_center: np.ndarray, opponent: np.ndarray,
              eta: float) -> np.ndarray:
    """One KL-proximal step with magnet ``mu`` (Nash-MP convention).

    Returns the log of ``argmin_pi (1/beta) P(opponent > pi) + KL(pi||mu) + KL(pi||center)/eta``,
    i.e. ``log_normalize((log center + eta log mu + (eta/beta) P opponent) / (1 + eta))``.

    Parameters
    ----------
    game : PreferenceGame or PreferenceOracle
        ``beta > 0``; one query of its oracle (``P opponent``).
    log_center : ndarray, shape (n,)
    opponent : ndarray, shape (n,)
        Opponent policy (probabilities).
    eta : float
        Step on the KL term (the NLHF-style step on the preference term is ``eta / beta``).
    """
    oracle = as_oracle(game)
    logits = (log_center + eta * oracle.log_mu + (eta / oracle.beta) * oracle.win_rates(opponent)) / (1.0 + eta)
    return log_normalize(logits)


def pack(log_policies: list[np.ndarray], queries: list[int], algorithm: str, hyper: dict,
         average: np.ndarray | None = None, diagnostics: dict | None = None) -> PreferenceRunResult:
    logs = np.array(log_policies, dtype=np.float64)
    return PreferenceRunResult(
        policies=readonly(np.exp(logs)),
        log_policies=readonly(logs),
        queries=readonly(np.asarray(queries, dtype=np.int64)),
        algorithm=algorithm,
        hyper=dict(hyper),
        average=None if average is None else readonly(average),
        diagnostics=diagnostics,
    )


def oracle_diagnostics(oracle: PreferenceOracle, **extra) -> dict:
    """The ``diagnostics`` of a recorded run: the oracle's counts and records plus ``extra``."""
    out = {"oracle_queries": oracle.queries, "opponents": readonly(oracle.opponents()),
           "oracle_comparisons": oracle.comparisons, "compared": readonly(oracle.compared())}
    out.update({k: readonly(np.asarray(v, dtype=np.float64)) for k, v in extra.items()})
    return out
