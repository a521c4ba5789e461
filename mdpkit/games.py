"""Games: the KL-regularised symmetric preference game of Nash learning from human feedback.

A *preference game* over ``n`` responses is given by a preference matrix ``P`` with
``P[y, y'] = P(y > y')``, ``P + P.T = 1``, a full-support reference policy ``mu`` and a
regularisation strength ``beta >= 0``. Its value for the row player is

    J_beta(pi, pi') = pi @ P @ pi' - beta * KL(pi || mu) + beta * KL(pi' || mu),

a symmetric constant-sum game (``J(pi, pi') + J(pi', pi) = 1``). For ``beta > 0`` its equilibrium
``pi*_beta`` exists and is unique (NLHF, Munos et al. 2024, Proposition 1, [SECONDARY]).
Reconstructed: its characterisation as the fixed point ``pi*_beta ∝ mu * exp(P @ pi*_beta / beta)``
follows from first-order conditions (checked numerically), not from the paper. See
``docs/papers/nash.md#nash-exact-equilibrium-and-metrics`` for provenance.

Contents
--------
- :class:`PreferenceGame` -- the validated, immutable model.
- Exact solvers: :func:`regularized_nash` (damped Newton on logits with beta-continuation,
  log domain throughout, residual verified) and :func:`unregularized_nash` (``beta = 0``,
  HiGHS linear program).
- Metrics: :func:`exploitability`, :func:`duality_gap`, :func:`best_response`,
  :func:`fixed_point_residual`, :func:`kl`, :func:`kl_log`, :func:`log_ratio_span`.

Every policy argument is a probability vector of shape ``(n,)``; functions whose name or
argument says ``log`` take log-probabilities instead, and :func:`kl`, :func:`exploitability`
and :func:`duality_gap` take them with ``log=True`` (needed for small ``beta``, where
probabilities underflow to exact zeros: ``log pi*`` spans up to ``1/beta``; score the
algorithms' ``log_policies`` against ``NashSolution.log_policy`` then).

This module is meant to grow a ``MarkovGame`` (two-player zero-sum) class next to
:class:`PreferenceGame`; nothing below assumes it is the only game type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.special import logsumexp

from ._validation import (
    PROB_ATOL,
    ArgumentTypeError,
    as_float_array,
    check_in_range,
    check_instance,
    check_not_complex,
    check_positive_int,
    check_real,
    check_stochastic,
    readonly,
    show,
    show_float,
)

__all__ = [
    "PreferenceGame",
    "NashSolution",
    "regularized_nash",
    "unregularized_nash",
    "best_response",
    "exploitability",
    "duality_gap",
    "fixed_point_residual",
    "kl",
    "kl_log",
    "log_ratio_span",
    "log_normalize",
]

_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------
class PreferenceGame:
    """Symmetric KL-regularised preference game (NLHF).

    Parameters
    ----------
    P : array_like, shape (n, n)
        ``P[y, y'] = P(y > y')`` in ``[0, 1]`` with ``P[y, y'] + P[y', y] = 1`` (within
        1e-9), hence ``P[y, y] = 1/2``.
    mu : array_like, shape (n,)
        Reference policy: a distribution with every entry ``> 0``.
    beta : float
        KL-regularisation strength, ``>= 0`` (``0`` = the unregularised game).
    name : str, optional
        Label for reprs and figures.

    Raises
    ------
    ValueError
        Naming the argument and the first offending entry: wrong shape, NaN/inf, ``P``
        outside ``[0, 1]``, the first pair ``(y, y')`` (row-major) with
        ``P[y, y'] + P[y', y] != 1``, ``mu`` not a full-support distribution, ``beta < 0``.

    Attributes
    ----------
    P : ndarray, shape (n, n), read-only
    mu, log_mu : ndarray, shape (n,), read-only
    beta : float
    n : int
    """

    __slots__ = ("_P", "_mu", "_log_mu", "_beta", "_name")

    def __init__(self, P, mu, beta: float, *, name: str | None = None):
        P = as_float_array("P", P, ndim=2, axis_names=("y", "y'"))
        n = P.shape[0]
        if P.shape != (n, n) or n < 1:
            raise ValueError(f"P must be a non-empty square matrix (n, n), got shape {P.shape}")
        check_in_range("P", P, 0.0, 1.0, axis_names=("y", "y'"))
        off = np.abs(P + P.T - 1.0) > PROB_ATOL
        if off.any():
            y, y2 = np.unravel_index(int(np.argmax(off)), off.shape)
            raise ValueError(
                f"P[y={y}, y'={y2}] + P[y={y2}, y'={y}] = {float(P[y, y2])!r} + {float(P[y2, y])!r} "
                f"= {float(P[y, y2] + P[y2, y])!r}, not 1 (tolerance {PROB_ATOL:g}): preferences must be "
                "complementary")
        mu = as_float_array("mu", mu, shape=(n,), axis_names=("y",))
        check_stochastic("mu", mu, axis_names=("y",))
        if (mu <= 0).any():
            y = int(np.argmax(mu <= 0))
            raise ValueError(f"mu[y={y}] = {float(mu[y])!r}: the reference policy must have full support")
        beta = check_real("beta", beta, lo=0.0)
        self._P = readonly(P)
        self._mu = readonly(mu)
        self._log_mu = readonly(np.log(mu))
        self._beta = beta
        self._name = name

    @property
    def P(self) -> np.ndarray:
        return self._P

    @property
    def mu(self) -> np.ndarray:
        return self._mu

    @property
    def log_mu(self) -> np.ndarray:
        return self._log_mu

    @property
    def beta(self) -> float:
        return self._beta

    @property
    def n(self) -> int:
        return int(self._P.shape[0])

    @property
    def name(self) -> str | None:
        return self._name

    def with_beta(self, beta: float) -> "PreferenceGame":
        """The same preferences and reference with another regularisation strength."""
        return PreferenceGame(self._P, self._mu, beta, name=self._name)

    def __repr__(self) -> str:
        label = f"{self._name!r}, " if self._name else ""
        return f"PreferenceGame({label}n={self.n}, beta={self._beta:g})"


# --------------------------------------------------------------------------------------
# Log-domain helpers
# --------------------------------------------------------------------------------------
def log_normalize(z: np.ndarray) -> np.ndarray:
    """Return ``z - logsumexp(z)``: log-probabilities of ``softmax(z)``, shape ``(n,)``.

    Hand-rolled rather than ``scipy.special.logsumexp`` because it sits in every algorithm's
    inner loop and the SciPy version's overhead dominates at n <= 1000.
    """
    shifted = z - np.max(z)
    return shifted - np.log(np.sum(np.exp(shifted)))


def check_game(game, name: str = "game") -> "PreferenceGame":
    """Return ``game``, raising :class:`ArgumentTypeError` naming ``name`` unless it is a PreferenceGame."""
    return check_instance(name, game, PreferenceGame, "mdpkit.games.PreferenceGame")


def _check_policy(name: str, pi, n: int) -> np.ndarray:
    pi = as_float_array(name, pi, shape=(n,), axis_names=("y",))
    check_stochastic(name, pi, axis_names=("y",))
    return pi


def _check_log_policy(name: str, log_pi, n: int | None = None) -> np.ndarray:
    """Validate normalised log-probabilities of shape ``(n,)``: no NaN or ``+inf`` entry
    (``-inf`` = zero mass is allowed), ``logsumexp = 0`` within the probability tolerance."""
    check_not_complex(name, log_pi)
    try:
        arr = np.array(log_pi, dtype=np.float64, copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ArgumentTypeError(f"{name} must be a numeric array of log-probabilities; could not convert: "
                                f"{exc}") from None
    if arr.ndim != 1 or (n is not None and arr.shape != (n,)) or arr.shape[0] < 1:
        want = f"({n},)" if n is not None else "(n,) with n >= 1"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if np.isnan(arr).any() or (arr == np.inf).any():
        y = int(np.argmax(np.isnan(arr) | (arr == np.inf)))
        raise ValueError(f"{name}[y={y}] = {show_float(arr[y])} is not a log-probability")
    if (arr == -np.inf).all():
        raise ValueError(f"{name} is -inf everywhere: exp({name}) sums to 0, not 1")
    # logsumexp shifts by the max, so a huge entry is reported, not overflowed.
    log_total = float(logsumexp(arr))
    if abs(log_total) > PROB_ATOL:  # |log total| <= atol <=> total = 1 within ~atol
        total = float(np.exp(log_total)) if log_total < 700 else float("inf")
        raise ValueError(f"exp({name}) sums to {total!r} (logsumexp {log_total!r}), not 1 "
                         f"(tolerance {PROB_ATOL:g})")
    return arr


def kl_log(log_p, log_q) -> float:
    """``KL(p || q)`` from log-probabilities, accurate down to ~1e-16 near ``p = q``.

    Parameters
    ----------
    log_p, log_q : array_like, shape (n,)
        Normalised log-probabilities; ``-inf`` allowed in ``log_p`` (zero mass).

    Returns
    -------
    float
        Uses ``sum_y p_y * phi(r_y)`` with ``r = log p - log q`` and
        ``phi(r) = r + expm1(-r) >= 0``: equal to KL when both are normalised, every term is
        non-negative, and it is second-order in the log-ratio error (the naive
        ``sum p * r`` is first-order), so linear-convergence plots stay clean to ~1e-16.
    """
    check_not_complex("log_p", log_p)
    check_not_complex("log_q", log_q)
    log_p = np.asarray(log_p, dtype=np.float64)
    log_q = np.asarray(log_q, dtype=np.float64)
    p = np.exp(log_p)
    q = np.exp(log_q)
    support = p > 0
    if np.any(support & (log_q == -np.inf)):
        return float("inf")
    r = np.where(support, log_p - np.where(support, log_q, 0.0), 0.0)
    small = np.abs(r) < 1.0
    # phi(r) accurately near 0; elsewhere p*phi(r) = p*r + q - p avoids overflow of expm1.
    terms = np.where(small, p * (r + np.expm1(-np.where(small, r, 0.0))), p * r + q - p)
    terms = np.where(support, terms, q)  # p_y = 0 contributes q_y (mass bookkeeping)
    return float(max(terms.sum(), 0.0))


def kl(p, q, *, log: bool = False) -> float:
    """``KL(p || q) = sum_y p_y log(p_y / q_y)`` for distributions of shape ``(n,)``.

    Parameters
    ----------
    p, q : array_like, shape (n,)
        Probability vectors, or with ``log=True`` normalised log-probabilities (e.g. a
        solution's ``log_policy`` and a run's ``log_policies[k]``).
    log : bool
        Take log-probabilities. Use it for small ``beta``: an equilibrium or an iterate whose
        probabilities underflow to exact zeros (``log pi`` spans up to ``1/beta``) gives
        ``inf`` from probabilities but the exact, finite KL from log-probabilities.

    Returns
    -------
    float
        Validated (both must be distributions); ``inf`` when ``p`` puts mass where ``q`` has none.
    """
    log = _check_flag("log", log)
    if log:
        log_p = _check_log_policy("p", p)
        return kl_log(log_p, _check_log_policy("q", q, log_p.shape[0]))
    p = as_float_array("p", p, ndim=1, axis_names=("y",))
    check_stochastic("p", p, axis_names=("y",))
    q = _check_policy("q", q, p.shape[0])
    with np.errstate(divide="ignore"):
        return kl_log(np.log(p), np.log(q))


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def log_ratio_span(log_p, log_q) -> float:
    """Span semi-norm ``max_y r_y - min_y r_y`` of ``r = log p - log q``, shapes ``(n,)``.

    Invariant to normalisation constants; zero iff ``p = q``. ``inf`` if either has a zero.
    """
    check_not_complex("log_p", log_p)
    check_not_complex("log_q", log_q)
    r = np.asarray(log_p, dtype=np.float64) - np.asarray(log_q, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        return float("inf")
    return float(r.max() - r.min())


# --------------------------------------------------------------------------------------
# Best response, exploitability, duality gap
# --------------------------------------------------------------------------------------
def _log_best_response(game: PreferenceGame, pi: np.ndarray) -> np.ndarray:
    return log_normalize(game.log_mu + (game.P @ pi) / game.beta)


def best_response(game: PreferenceGame, pi, *, log: bool = False) -> np.ndarray:
    """Regularised best response ``BR_beta(pi)(y) ∝ mu(y) exp(P(y > pi) / beta)``.

    Parameters
    ----------
    game : PreferenceGame
        With ``beta > 0`` (the unregularised best response is not unique).
    pi : array_like, shape (n,)
        Opponent policy.
    log : bool
        Return log-probabilities (recommended for small ``beta``).

    Returns
    -------
    ndarray, shape (n,)
    """
    game = check_game(game)
    if game.beta == 0:
        raise ValueError("best_response needs game.beta > 0 (the beta = 0 best response is a set)")
    pi = _check_policy("pi", pi, game.n)
    lbr = _log_best_response(game, pi)
    return lbr if _check_flag("log", log) else np.exp(lbr)


def exploitability(game: PreferenceGame, pi, *, regularized: bool = True, log: bool = False) -> float:
    """One-sided exploitability of ``pi`` (how much a best responder gains over 1/2).

    Parameters
    ----------
    game : PreferenceGame
    pi : array_like, shape (n,)
        A distribution, or with ``log=True`` its normalised log-probabilities (e.g. a run's
        ``log_policies[k]``: exact where the probabilities underflow to zero).
    log : bool
        ``pi`` holds log-probabilities.
    regularized : bool
        ``True``: ``e_beta(pi) = max_pi' J_beta(pi', pi) - 1/2
        = beta * logsumexp(log mu + P pi / beta) + beta * KL(pi || mu) - 1/2``,
        evaluated as ``beta * KL(pi || BR_beta(pi))`` (the same number because
        ``pi @ P @ pi = 1/2``, but non-negative and accurate near 0).
        ``False`` (or ``game.beta == 0``): ``max_y P(y > pi) - 1/2``.

    Returns
    -------
    float
        ``>= 0``; zero exactly at the (regularised) equilibrium.
    """
    game = check_game(game)
    regularized = _check_flag("regularized", regularized)
    pi, log_pi = _policy_and_log("pi", pi, game.n, _check_flag("log", log))
    if not regularized or game.beta == 0:
        return float(max(np.max(game.P @ pi) - 0.5, 0.0))
    return game.beta * kl_log(log_pi, _log_best_response(game, pi))


def _policy_and_log(name: str, pi, n: int, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(pi, log pi)`` from a validated distribution or validated log-probabilities.

    From log-probabilities, ``pi = exp(log pi)`` may underflow to 0 in places; it only enters
    ``P @ pi`` (where such terms are negligible), while KL terms use ``log pi`` itself.
    """
    if log:
        log_pi = _check_log_policy(name, pi, n)
        return np.exp(log_pi), log_pi
    pi = _check_policy(name, pi, n)
    with np.errstate(divide="ignore"):
        return pi, np.log(pi)


def duality_gap(game: PreferenceGame, pi, opponent=None, *, regularized: bool = True,
                log: bool = False) -> float:
    """Saddle-point gap ``max_x J(x, opponent) - min_y J(pi, y)`` of the profile.

    Parameters
    ----------
    game : PreferenceGame
    pi : array_like, shape (n,)
        Row (maximising) player's policy.
    opponent : array_like, shape (n,), optional
        Column (minimising) player's policy; defaults to ``pi`` (symmetric profile), for
        which the gap equals ``2 * exploitability(game, pi)``.
    regularized : bool
        Use ``J_beta`` (``True``) or the unregularised ``pi @ P @ y`` (``False``).
    log : bool
        ``pi`` and ``opponent`` are normalised log-probabilities (see :func:`exploitability`).

    Returns
    -------
    float
        ``>= 0`` up to rounding; zero iff ``(pi, opponent)`` is an equilibrium.
    """
    game = check_game(game)
    regularized = _check_flag("regularized", regularized)
    log = _check_flag("log", log)
    pi, log_pi = _policy_and_log("pi", pi, game.n, log)
    opp, log_opp = (pi, log_pi) if opponent is None else _policy_and_log("opponent", opponent, game.n, log)
    P, beta = game.P, game.beta
    if not regularized or beta == 0:
        return float(np.max(P @ opp) - np.min(pi @ P))
    kl_pi = kl_log(log_pi, game.log_mu)
    kl_opp = kl_log(log_opp, game.log_mu)
    best_row = beta * logsumexp(game.log_mu + (P @ opp) / beta) + beta * kl_opp
    # min_y [pi P y + beta KL(y||mu)] = -beta * logsumexp(log mu - P^T pi / beta)
    best_col = -beta * logsumexp(game.log_mu - (P.T @ pi) / beta) - beta * kl_pi
    return float(best_row - best_col)


def fixed_point_residual(game: PreferenceGame, log_pi) -> float:
    """``span(log pi - log BR_beta(pi))``: zero iff ``pi = pi*_beta``.

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0``.
    log_pi : array_like, shape (n,)
        Log-probabilities (finite: ``pi*_beta`` has full support).
    """
    game = check_game(game)
    if game.beta == 0:
        raise ValueError("fixed_point_residual needs game.beta > 0")
    log_pi = _check_log_policy("log_pi", log_pi, game.n)
    return log_ratio_span(log_pi, game.log_mu + (game.P @ np.exp(log_pi)) / game.beta)


# --------------------------------------------------------------------------------------
# Exact solvers
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NashSolution:
    """Equilibrium of a :class:`PreferenceGame` with its certificate.

    Attributes
    ----------
    policy : ndarray, shape (n,)
        The equilibrium policy (entries may underflow to 0 for small ``beta``).
    log_policy : ndarray, shape (n,)
        Its log-probabilities (finite for ``beta > 0``; ``-inf`` where the LP puts no mass).
    residual : float
        ``beta > 0``: fixed-point residual ``span(log pi - log BR_beta(pi))``.
        ``beta = 0``: the LP's exploitability ``max_y P(y > pi) - 1/2``.
    exploitability : float
        Regularised (``beta > 0``) or unregularised exploitability of ``policy``.
    iterations : int
        Newton iterations summed over continuation stages (LP: simplex/IPM iterations).
    method : str
    """

    policy: np.ndarray
    log_policy: np.ndarray
    residual: float
    exploitability: float
    iterations: int
    method: str


def _newton(P: np.ndarray, log_mu: np.ndarray, beta: float, z: np.ndarray, *,
            tight: float, loose: float, max_iter: int):
    """Damped Newton on ``F(z) = z - log mu - P softmax(z) / beta = 0``.

    The Jacobian ``I - P (diag(pi) - pi pi^T) / beta`` is nonsingular for every ``z``
    (``P`` minus its skew part 1/2 times ones does not change ``P D``, and a skew matrix
    has no positive quadratic form), so the Newton direction always decreases ``|F|^2``
    and backtracking on that merit cannot stall away from the root. The iteration stops at
    ``span(F) <= tight`` or, once below ``loose``, when rounding stops the merit from
    falling (the attainable floor grows like eps / beta^2 in this parametrisation).

    Returns ``(z, iterations, span_residual, converged)``.
    """
    n = z.shape[0]

    def residual(z):
        log_pi = log_normalize(z)
        pi = np.exp(log_pi)
        return z - log_mu - (P @ pi) / beta, pi

    f, pi = residual(z)
    merit = float(f @ f)
    for it in range(max_iter):
        span = float(np.ptp(f))
        if span <= tight:
            return z, it, span, True
        Ppi = P @ pi
        jac = -(P * pi[None, :] - np.outer(Ppi, pi)) / beta  # O(n^2): P @ diag(pi) - (P pi) pi^T
        jac[np.diag_indices(n)] += 1.0
        try:
            dz = np.linalg.solve(jac, -f)
        except np.linalg.LinAlgError:
            return z, it, span, span <= loose
        step = 1.0
        while True:
            z_new = z + step * dz
            f_new, pi_new = residual(z_new)
            merit_new = float(f_new @ f_new)
            if np.isfinite(merit_new) and merit_new <= (1.0 - 1e-4 * step) * merit:
                break
            step *= 0.5
            if step < 1e-12:
                # No decrease possible: rounding floor (accept if already small) or failure.
                return z, it, span, span <= loose
        if span <= loose and merit_new > 0.25 * merit:
            # Below the acceptance level and no longer converging quadratically: floor.
            z, f, pi, merit = z_new, f_new, pi_new, merit_new
            return z, it + 1, float(np.ptp(f)), True
        z, f, pi, merit = z_new, f_new, pi_new, merit_new
    span = float(np.ptp(f))
    return z, max_iter, span, span <= loose


def regularized_nash(game: PreferenceGame, *, continuation_start: float = 0.1,
                     max_iter: int = 100) -> NashSolution:
    """The unique regularised equilibrium ``pi*_beta`` to machine precision.

    Solves ``z = log mu + P softmax(z) / beta`` (logits of ``pi*_beta``) by damped Newton
    in the log domain. For ``beta < continuation_start`` the solution is followed from
    ``beta_0 = continuation_start`` down to ``beta`` (halving each stage, warm-starting
    with one best-response map), because cold Newton struggles when the softmax is very
    sharp. If that fails, a finer continuation (factor 0.8) is tried; if that fails too,
    :class:`RuntimeError` is raised -- a non-converged point is never returned.

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0`` (for ``beta = 0`` use :func:`unregularized_nash`).
    continuation_start : float
        First ``beta`` of the continuation path.
    max_iter : int
        Newton iterations per stage.

    Returns
    -------
    NashSolution
        ``residual = span(log pi - log BR_beta(pi))``, accepted if
        ``<= 1e3 * eps * max(1, 1/beta)^2`` (the conditioning of the logit parametrisation:
        a relative error eps in ``pi`` moves ``P pi / beta`` by eps / beta, and ``log pi``
        itself has magnitude up to 1/beta); in practice it lands near 1e-13 for
        ``beta >= 1e-2`` and near 1e-9 at ``beta = 1e-4``. ``exploitability`` is
        ``e_beta(pi*) = beta * KL(pi* || BR_beta(pi*))`` (typically < 1e-16).

    Raises
    ------
    ValueError
        If ``game.beta == 0``.
    RuntimeError
        If no continuation path reaches the acceptance residual.

    Notes
    -----
    Reconstructed: the fixed-point characterisation follows from first-order conditions
    (docs/papers/nash.md#nash-exact-equilibrium-and-metrics); the solver design is ours.
    """
    game = check_game(game)
    continuation_start = check_real("continuation_start", continuation_start, lo=0.0, lo_open=True)
    max_iter = check_positive_int("max_iter", max_iter)
    beta = game.beta
    if beta == 0:
        raise ValueError("regularized_nash needs game.beta > 0; use unregularized_nash for beta = 0")
    P, log_mu = game.P, game.log_mu
    scale = max(1.0, 1.0 / beta)
    loose = 1e3 * _EPS * scale * scale
    tight = 16 * _EPS * scale
    total_iter = 0
    # Where the last attempt stopped: the stage's beta, its residual and *its* acceptance level
    # (an intermediate stage accepts 1e-6 max(1, 1/b), not the final ``loose``).
    failed_at = (beta, np.inf, loose)
    for ratio in (0.5, 0.8):
        b = max(beta, min(continuation_start, 1.0)) if beta < continuation_start else beta
        z = log_mu + (P @ game.mu) / b
        while True:
            final = b == beta
            stage_scale = max(1.0, 1.0 / b)
            stage_loose = loose if final else 1e-6 * stage_scale
            z, it, span, ok = _newton(
                P, log_mu, b, z,
                tight=tight if final else 1e-8 * stage_scale,
                loose=stage_loose,
                max_iter=max_iter)
            total_iter += it
            if not ok:
                failed_at = (b, span, stage_loose)
                break
            if final:
                log_pi = log_normalize(z)
                pi = np.exp(log_pi)
                residual = fixed_point_residual(game, log_pi)
                if residual > loose:
                    failed_at = (b, residual, loose)
                    break
                e = game.beta * kl_log(log_pi, _log_best_response(game, pi))
                return NashSolution(readonly(pi), readonly(log_pi), residual, e, total_iter,
                                    f"newton-continuation(ratio={ratio})" if beta < continuation_start
                                    else "newton")
            b_next = max(beta, b * ratio)
            # One best-response map transports the solution at b to a good guess at b_next.
            z = log_mu + (P @ np.exp(log_normalize(z))) / b_next
            b = b_next
    stage_beta, span, accept = failed_at
    where = "" if stage_beta == beta else f" at the continuation stage beta={stage_beta:g}"
    raise RuntimeError(
        f"regularized_nash did not converge for beta={beta:g}, n={game.n}{where}: fixed-point "
        f"residual {span:.3g} > that stage's acceptance {accept:.3g} after {total_iter} Newton iterations "
        f"in all (max_iter={max_iter} per stage)")


def unregularized_nash(game: PreferenceGame) -> NashSolution:
    """A Nash equilibrium (minimax winner) of the unregularised game by linear programming.

    Finds ``pi >= 0, sum(pi) = 1, P^T pi >= 1/2`` componentwise, i.e.
    ``P(pi > y') >= 1/2`` for every response ``y'`` -- equivalently
    ``max_y P(y > pi) <= 1/2`` since ``P^T = 1 - P``. Solved as
    ``max v s.t. P^T pi >= v`` with SciPy's HiGHS; the game value is exactly 1/2, which is
    checked. ``game.beta`` is ignored.

    Returns
    -------
    NashSolution
        ``residual = exploitability = max_y P(y > pi) - 1/2`` (``<= 1e-9`` is enforced).
        The equilibrium set can be a polytope; which vertex/point HiGHS returns is not
        specified (use ``regularized_nash`` with small ``beta`` for a canonical selection).

    Raises
    ------
    RuntimeError
        If HiGHS fails or the certificate is violated.
    """
    game = check_game(game)
    n = game.n
    P = game.P
    # variables (pi_0..pi_{n-1}, v); minimise -v
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-P.T, np.ones((n, 1))])  # v - (P^T pi)_j <= 0
    b_ub = np.zeros(n)
    A_eq = np.zeros((1, n + 1))
    A_eq[0, :n] = 1.0
    bounds = [(0.0, None)] * n + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"unregularized_nash: HiGHS failed ({res.message})")
    pi = np.maximum(res.x[:n], 0.0)  # HiGHS may return -1e-17 for zero entries
    total = pi.sum()
    if abs(total - 1.0) > 1e-9 or abs(res.x[-1] - 0.5) > 1e-9:
        raise RuntimeError(f"unregularized_nash: LP returned mass {float(total)!r}, value {float(res.x[-1])!r} "
                           "(expected 1 and 1/2)")
    pi = pi / total  # removes the ~1e-15 rounding of the equality constraint only
    e = float(np.max(P @ pi) - 0.5)
    if e > 1e-9:
        raise RuntimeError(f"unregularized_nash: certificate violated, exploitability {e:.3e}")
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    return NashSolution(readonly(pi), readonly(log_pi), max(e, 0.0), max(e, 0.0),
                        int(getattr(res, "nit", 0)), "highs-lp")


# Two-player zero-sum Markov games live in their own module; re-exported here so that
# ``mdpkit.games`` is the one place for game models and exact equilibria.
from .markov_game import MarkovGame, nash_gap, solve_game  # noqa: E402,F401
