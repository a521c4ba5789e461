"""Acceptance rules on synthetic data with known answers, including cases that must FAIL."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from proofs_check.claim import Run
from proofs_check.rules import (BoundHolds, Contraction, Envelope, EnvelopeTable, HighProbability, Rate,
                                loglog_slope)
from proofs_check.envelope import envelope_source, fit_envelope

JUST = "synthetic test tolerance"


def _runs(values, param="n"):
    """values: {(x, seed): observed} -> list of Run with observed key 'y'."""
    return [Run("claim", {param: x}, s, {"y": np.asarray(v, dtype=np.float64)}) for (x, s), v in values.items()]


def _power_law(exponent, xs, n_seeds, noise, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return _runs({(x, s): scale * x ** exponent * np.exp(noise * rng.standard_normal())
                  for x in xs for s in range(n_seeds)})


XS = [16, 64, 256, 1024, 4096]


# ---------------------------------------------------------------------------------------- BoundHolds
def test_bound_holds_passes_when_every_run_is_below():
    runs = _runs({(x, s): [x - 0.5, x - 0.1] for x in (1, 2, 3) for s in range(5)})
    out = BoundHolds("y").evaluate(runs, bound=lambda p: p["n"])
    assert out.passed and out.numbers["violations"] == 0
    assert out.numbers["max_ratio"] == pytest.approx(2.9 / 3)


def test_bound_holds_fails_on_a_single_tiny_violation():
    values = {(x, s): x - 0.5 for x in (1, 2, 3) for s in range(5)}
    values[(2, 3)] = 2 + 1e-9
    out = BoundHolds("y").evaluate(_runs(values), bound=lambda p: p["n"])
    assert not out.passed
    assert out.numbers["violations"] == 1 and out.numbers["worst_params"] == {"n": 2}


def test_bound_holds_quantile():
    # 1 violation among 20 seeds at one point: the 0.9-quantile holds, the maximum does not.
    values = {(1, s): 0.5 for s in range(20)}
    values[(1, 7)] = 2.0
    runs = _runs(values)
    assert BoundHolds("y", quantile=0.9).evaluate(runs, bound=lambda p: 1.0).passed
    assert not BoundHolds("y", quantile=1.0).evaluate(runs, bound=lambda p: 1.0).passed
    # 3 of 20 violate: above a 10% allowance.
    for s in (1, 2):
        values[(1, s)] = 2.0
    assert not BoundHolds("y", quantile=0.9).evaluate(_runs(values), bound=lambda p: 1.0).passed


def test_bound_holds_array_bound_broadcasts():
    runs = _runs({(1, 0): [0.5, 1.5]})
    assert BoundHolds("y").evaluate(runs, bound=lambda p: np.array([1.0, 2.0])).passed
    assert not BoundHolds("y").evaluate(runs, bound=lambda p: np.array([1.0, 1.0])).passed


def test_bound_holds_rejects_bad_quantile():
    with pytest.raises(ValueError, match="quantile"):
        BoundHolds("y", quantile=1.5)


# ---------------------------------------------------------------------------------------- Rate
def test_loglog_slope_exact():
    x = np.array([1.0, 10.0, 100.0])
    assert loglog_slope(x, 5 * x ** -0.7) == pytest.approx(-0.7, abs=1e-12)


def test_rate_passes_on_true_exponent_and_reports_ci():
    runs = _power_law(-0.5, XS, n_seeds=30, noise=0.3)
    out = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST).evaluate(runs, None, seed=1)
    assert out.passed, out.summary
    lo, hi = out.numbers["groups"][0]["ci"]
    assert -0.6 <= lo < -0.5 < hi <= -0.4
    assert out.summary.startswith("slope CI [") and "within -0.5 ± 0.1" in out.summary


@pytest.mark.parametrize("true_exponent", [-1.0, -0.25, 0.0])
def test_rate_fails_on_wrong_exponent(true_exponent):
    runs = _power_law(true_exponent, XS, n_seeds=30, noise=0.3)
    out = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST).evaluate(runs, None, seed=1)
    assert not out.passed
    assert "NOT within" in out.summary


def test_rate_fails_when_ci_too_wide_for_tolerance():
    # Right exponent, but noise so large the CI cannot fit inside ±0.1: not enough evidence.
    runs = _power_law(-0.5, XS, n_seeds=4, noise=2.0)
    out = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST).evaluate(runs, None, seed=1)
    lo, hi = out.numbers["groups"][0]["ci"]
    assert hi - lo > 0.2 and not out.passed


def test_rate_flat_in_h():
    flat = _power_law(0.0, [2, 4, 8, 16], n_seeds=30, noise=0.2)
    rule = Rate("y", "n", exponent=0.0, tolerance=0.1, justification=JUST)
    assert rule.evaluate(flat, None, seed=0).passed
    growing = _power_law(0.5, [2, 4, 8, 16], n_seeds=30, noise=0.2)
    assert not rule.evaluate(growing, None, seed=0).passed


def test_rate_one_sided_upper():
    rule = Rate("y", "n", exponent=-0.5, tolerance=0.05, justification=JUST, sided="upper")
    assert rule.evaluate(_power_law(-1.0, XS, 20, 0.3), None, seed=0).passed   # faster than claimed: fine
    assert not rule.evaluate(_power_law(-0.2, XS, 20, 0.3), None, seed=0).passed


def test_rate_uses_only_asymptotic_range():
    # Pre-asymptotic points (n < 100) follow a different law; the declared range excludes them.
    rng = np.random.default_rng(3)
    vals = {(x, s): (1.0 if x < 100 else 10 * x ** -0.5) * np.exp(0.1 * rng.standard_normal())
            for x in XS for s in range(20)}
    runs = _runs(vals)
    full = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST)
    asym = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST, x_min=100)
    assert not full.evaluate(runs, None, seed=0).passed
    assert asym.evaluate(runs, None, seed=0).passed


def test_rate_groups_by_other_parameters():
    rng = np.random.default_rng(0)
    runs = [Run("claim", {"n": x, "S": S}, s, {"y": np.float64(x ** (-0.5 if S == 2 else 0.0)
                                                              * np.exp(0.2 * rng.standard_normal()))})
            for x in XS for S in (2, 3) for s in range(20)]
    out = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST).evaluate(runs, None, seed=0)
    assert not out.passed
    by_group = {g["group"]: g["passed"] for g in out.numbers["groups"]}
    assert by_group == {'{"S":2}': True, '{"S":3}': False}


def test_rate_non_positive_is_a_failure_not_a_crash():
    runs = _runs({(x, s): 0.0 for x in XS for s in range(3)})
    out = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST).evaluate(runs, None)
    assert not out.passed and "not positive" in out.summary


def test_rate_is_reproducible_given_seed():
    runs = _power_law(-0.5, XS, n_seeds=15, noise=0.5)
    rule = Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST)
    assert rule.evaluate(runs, None, seed=7).numbers == rule.evaluate(runs[::-1], None, seed=7).numbers


def test_rate_requires_justification_and_positive_tolerance():
    with pytest.raises(ValueError, match="justification"):
        Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=" ")
    with pytest.raises(ValueError, match="tolerance"):
        Rate("y", "n", exponent=-0.5, tolerance=0.0, justification=JUST)
    with pytest.raises(ValueError, match="sided"):
        Rate("y", "n", exponent=-0.5, tolerance=0.1, justification=JUST, sided="lower")


@given(exponent=st.floats(-2.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_rate_property_true_exponent_passes_shifted_fails(exponent, seed):
    runs = _power_law(exponent, XS, n_seeds=12, noise=0.05, seed=seed)
    ok = Rate("y", "n", exponent=exponent, tolerance=0.1, justification=JUST, n_resamples=300)
    off = Rate("y", "n", exponent=exponent + 0.3, tolerance=0.1, justification=JUST, n_resamples=300)
    assert ok.evaluate(runs, None, seed=seed).passed
    assert not off.evaluate(runs, None, seed=seed).passed


def _reference_ci(rule, runs, seed):
    """The Rate interval as first written: one ``linregress`` per bootstrap resample (slow, plain)."""
    xs = sorted({r.params["n"] for r in runs})
    seeds = sorted({r.seed_index for r in runs})
    table = {(r.params["n"], r.seed_index): float(r.observed["y"]) for r in runs}
    Y = np.array([[table[(x, s)] for x in xs] for s in seeds])
    x = np.asarray(xs, dtype=np.float64)

    def statistic(idx):
        sub = Y[idx.astype(np.int64)].mean(axis=0)
        return loglog_slope(x, sub) if np.all(sub > 0) else np.nan

    res = stats.bootstrap((np.arange(len(seeds), dtype=np.float64),), statistic, vectorized=False,
                          n_resamples=rule.n_resamples, confidence_level=rule.confidence, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize("exponent, n_seeds, noise, seed", [(-0.5, 30, 0.3, 1), (0.0, 12, 0.8, 2),
                                                            (0.5, 5, 1.5, 3), (-1.0, 40, 0.05, 4)])
def test_rate_vectorised_bootstrap_matches_one_linregress_per_resample(exponent, n_seeds, noise, seed):
    runs = _power_law(exponent, XS, n_seeds=n_seeds, noise=noise, seed=seed)
    rule = Rate("y", "n", exponent=exponent, tolerance=0.1, justification=JUST, n_resamples=500)
    ci = rule.evaluate(runs, None, seed=seed).numbers["groups"][0]["ci"]
    np.testing.assert_allclose(ci, _reference_ci(rule, runs, seed), rtol=0, atol=1e-12)


def test_rate_vectorised_bootstrap_keeps_nan_resamples():
    # A positive mean carried by one seed: resamples without it have a negative mean, their slope
    # is undefined (NaN), and the interval is NaN -- a FAIL -- exactly as with one linregress each.
    runs = _runs({(x, s): (20.0 if s == 0 else -1.0) * x ** -0.5 for x in XS for s in range(8)})
    rule = Rate("y", "n", exponent=0.0, tolerance=0.1, justification=JUST, n_resamples=300)
    with np.errstate(all="ignore"), pytest.warns(Warning):
        ref = _reference_ci(rule, runs, 9)
    with pytest.warns(Warning):
        out = rule.evaluate(runs, None, seed=9)
    assert np.isnan(ref).all() and np.isnan(out.numbers["groups"][0]["ci"]).all() and not out.passed


# ---------------------------------------------------------------------------------------- Contraction
def _geometric_runs(factors_by_seed, length=40, e0=5.0):
    return [Run("claim", {"gamma": 0.9}, s, {"err": e0 * np.cumprod(np.r_[1.0, f[:length - 1]])})
            for s, f in enumerate(factors_by_seed)]


def test_contraction_passes_when_every_step_contracts_enough():
    rng = np.random.default_rng(0)
    runs = _geometric_runs([rng.uniform(0.5, 0.9, size=40) for _ in range(10)])
    out = Contraction("err", tolerance=1e-9, justification=JUST).evaluate(runs, bound=lambda p: p["gamma"])
    assert out.passed, out.summary
    assert out.numbers["max_step_ratio"] <= 0.9


def test_contraction_exact_factor_passes_slower_fails():
    exact = _geometric_runs([np.full(40, 0.9)])
    rule = Contraction("err", tolerance=1e-9, justification=JUST)
    out = rule.evaluate(exact, bound=lambda p: 0.9)
    assert out.passed and out.numbers["worst"]["factor"] == pytest.approx(0.9, rel=1e-12)
    slow = _geometric_runs([np.full(40, 0.93)])
    assert not rule.evaluate(slow, bound=lambda p: 0.9).passed


def test_contraction_plateau_fails():
    # Converging to the wrong fixed point: error stalls at 1.
    err = 1.0 + 4.0 * 0.5 ** np.arange(60)
    runs = [Run("claim", {"gamma": 0.9}, 0, {"err": err})]
    assert not Contraction("err", tolerance=0.0, justification=JUST).evaluate(runs, lambda p: 0.9).passed


def test_contraction_ignores_rounding_floor():
    # Geometric down to 1e-13, then a long tail of rounding noise around 1e-15: excluded by the floor.
    err = np.r_[0.5 ** np.arange(44), np.tile([3e-15, 8e-16, 2e-15], 15)]
    runs = [Run("claim", {}, 0, {"err": err})]
    rule = Contraction("err", tolerance=1e-9, justification=JUST, floor=1e-12)
    assert rule.evaluate(runs, lambda p: 0.5).passed
    assert not Contraction("err", tolerance=1e-9, justification=JUST, floor=0.0).evaluate(
        runs, lambda p: 0.5).passed


def test_contraction_rejects_non_1d():
    runs = [Run("claim", {}, 0, {"err": np.ones((2, 2))})]
    with pytest.raises(ValueError, match="1-D"):
        Contraction("err", tolerance=0.0, justification=JUST).evaluate(runs, lambda p: 0.5)


# ---------------------------------------------------------------------------------------- HighProbability
def _events(failures, n):
    return [Run("claim", {"x": 1}, s, {"y": np.float64(2.0 if s < failures else 0.0)}) for s in range(n)]


def test_high_probability_zero_failures():
    out = HighProbability("y", delta=0.05).evaluate(_events(0, 100), bound=lambda p: 1.0)
    # Exact Clopper-Pearson upper limit with k = 0: 1 - (alpha/2)^(1/n).
    assert out.numbers["groups"][0]["upper"] == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-9)
    assert out.passed


def test_high_probability_matches_beta_quantile_and_fails_above_delta():
    out = HighProbability("y", delta=0.05).evaluate(_events(10, 100), bound=lambda p: 1.0)
    assert out.numbers["groups"][0]["upper"] == pytest.approx(stats.beta.ppf(0.975, 11, 90), rel=1e-9)
    assert not out.passed


def test_high_probability_too_few_runs_cannot_pass():
    # With 20 runs even zero failures leave an upper limit of 0.168 > 0.1: not enough evidence.
    assert not HighProbability("y", delta=0.1).evaluate(_events(0, 20), bound=lambda p: 1.0).passed


def test_high_probability_per_point():
    runs = _events(0, 100) + [Run("claim", {"x": 2}, s, {"y": np.float64(2.0 if s < 20 else 0.0)})
                              for s in range(100)]
    assert HighProbability("y", delta=0.2).evaluate(runs, bound=lambda p: 1.0).passed
    assert not HighProbability("y", delta=0.2, per_point=True).evaluate(runs, bound=lambda p: 1.0).passed


def test_high_probability_validates_delta():
    with pytest.raises(ValueError, match="delta"):
        HighProbability("y", delta=1.0)


# ---------------------------------------------------------------------------------------- UNDECIDED
def _undecided(out, *needles):
    assert out.passed is None and not out.decided, out.summary
    assert out.summary.startswith("UNDECIDED: ")
    for needle in needles:
        assert needle in out.summary, out.summary
    return out


def _rate(**kw):
    return Rate("y", "n", exponent=kw.pop("exponent", -0.5), tolerance=kw.pop("tolerance", 0.1),
                justification=JUST, **kw)


def test_every_rule_is_undecided_on_zero_runs():
    for rule in (BoundHolds("y"), _rate(), Contraction("y", 0.0, JUST), HighProbability("y", 0.1)):
        _undecided(rule.evaluate([], bound=lambda p: 1.0), "no runs")


def test_rate_nan_or_inf_observation_is_undecided_not_fail():
    runs = _power_law(-0.5, XS, n_seeds=10, noise=0.1)
    runs[7] = Run("claim", runs[7].params, runs[7].seed_index, {"y": np.array(np.nan)})
    _undecided(_rate().evaluate(runs, None), "non-finite y", "nan")
    runs[7] = Run("claim", runs[7].params, runs[7].seed_index, {"y": np.array(np.inf)})
    _undecided(_rate().evaluate(runs, None), "non-finite y", "inf")


def test_rate_censored_point_is_undecided_even_when_it_would_pass():
    # A learner that never reaches its target reports the budget; the observe marks it censored.
    runs = _power_law(-0.5, XS, n_seeds=10, noise=0.1)
    r = runs[3]
    runs[3] = Run("claim", r.params, r.seed_index, {"y": r.observed["y"], "y:censored": np.array(1.0)})
    _undecided(_rate().evaluate(runs, None), "1 censored y", "measures the cap")


def test_rate_flat_capped_series_is_undecided_not_pass():
    # Every run capped at the same budget: slope CI [0, 0], which an upper rule with exponent 0 used
    # to PASS; zero width says the seeds carry no information.
    runs = _runs({(x, s): 500.0 for x in XS for s in range(8)})
    out = _undecided(_rate(exponent=0.0, tolerance=0.3, sided="upper").evaluate(runs, None), "zero width")
    assert out.numbers["groups"][0]["ci"] == [0.0, 0.0]
    _undecided(_rate(exponent=0.0, tolerance=0.3).evaluate(runs, None), "zero width")


def test_rate_upper_needs_the_quantity_to_move_by_min_change():
    # Seeds differ (the CI has width), but the seed-mean changes by < 1% across the grid.
    rng = np.random.default_rng(3)
    runs = _runs({(x, s): 100.0 * np.exp(rng.normal(0, 0.01)) * (1 + 1e-3 * np.log(x))
                  for x in XS for s in range(12)})
    rule = _rate(exponent=0.0, tolerance=0.3, sided="upper", min_change=0.05)
    out = _undecided(rule.evaluate(runs, None, seed=1), "no evidence it moves", "not more than 0.05")
    assert out.numbers["groups"][0]["relative_change"] < 0.05
    # The same rule on a quantity that moves decides (and passes: slope 0.2 <= 0 + 0.3).
    moving = _power_law(0.2, XS, n_seeds=12, noise=0.1)
    assert rule.evaluate(moving, None, seed=1).passed is True


def test_rate_one_seed_fewer_than_two_x_and_nonpositive_mean_are_undecided():
    _undecided(_rate().evaluate(_power_law(-0.5, XS, n_seeds=1, noise=0.1), None), "one seed")
    _undecided(_rate().evaluate(_power_law(-0.5, [16], n_seeds=5, noise=0.1), None), "fewer than 2 values of n")
    runs = _runs({(x, s): (0.0 if x == 64 else 1.0 / x) for x in XS for s in range(4)})
    _undecided(_rate().evaluate(runs, None), "not positive")


def test_rate_nan_bootstrap_ci_is_undecided():
    # Seed means positive, but some resamples draw only the negative seeds at n = 64: NaN slopes.
    values = {(x, s): 1.0 / x for x in XS for s in range(6)}
    for s in range(3):
        values[(64, s)] = -0.001
    values[(64, 5)] = 1.0
    _undecided(_rate().evaluate(_runs(values), None, seed=2), "not finite")


def test_bound_holds_nan_is_undecided_unless_another_run_decides():
    values = {(1, s): 0.5 for s in range(5)}
    values[(1, 2)] = np.nan
    out = _undecided(BoundHolds("y").evaluate(_runs(values), bound=lambda p: 1.0), "1 of 5 runs have NaN")
    assert out.numbers["undecided_runs"] == 1
    values[(1, 3)] = 1.5   # a definite violation: FAIL whatever the NaN is
    out = BoundHolds("y").evaluate(_runs(values), bound=lambda p: 1.0)
    assert out.passed is False and "decided either way" in out.summary


def test_bound_holds_censoring_direction_decides_or_not():
    def runs_with(value, mark):
        return [Run("claim", {"n": 1}, 0, {"y": np.array([value]), "y:censored": np.array([mark])})]
    rule = BoundHolds("y")
    # At least 2 > 1: a violation for sure. At least 0.5: could be either. At most 0.5: holds for sure.
    assert rule.evaluate(runs_with(2.0, 1.0), bound=lambda p: 1.0).passed is False
    _undecided(rule.evaluate(runs_with(0.5, 1.0), bound=lambda p: 1.0), "either side")
    assert rule.evaluate(runs_with(0.5, -1.0), bound=lambda p: 1.0).passed is True
    _undecided(rule.evaluate(runs_with(2.0, -1.0), bound=lambda p: 1.0), "either side")
    with pytest.raises(ValueError, match="y:censored"):
        rule.evaluate(runs_with(0.5, 2.0), bound=lambda p: 1.0)


def test_high_probability_censored_runs_undecided_only_when_they_matter():
    def runs(n_fail, n_censored, n):
        out = []
        for s in range(n):
            value, mark = (2.0, 0.0) if s < n_fail else ((0.5, 1.0) if s < n_fail + n_censored else (0.5, 0.0))
            out.append(Run("claim", {"n": 1}, s, {"y": np.array(value), "y:censored": np.array(mark)}))
        return out
    rule = HighProbability("y", delta=0.2)
    # 0 certain failures of 40 passes (upper 0.09); if the 6 censored runs all failed, 6/40 would not.
    _undecided(rule.evaluate(runs(0, 6, 40), bound=lambda p: 1.0), "0 to 6 of 40 runs exceed")
    # 1 censored run cannot change the outcome: decided.
    assert rule.evaluate(runs(0, 1, 40), bound=lambda p: 1.0).passed is True
    out = rule.evaluate(runs(20, 3, 40), bound=lambda p: 1.0)
    assert out.passed is False and out.numbers["failures"] == 20 and out.numbers["n"] == 40


def test_contraction_nan_fit_is_undecided():
    good = Run("claim", {"g": 0.5}, 0, {"y": 0.5 ** np.arange(10)})
    flat_nan = Run("claim", {"g": 0.5}, 1, {"y": np.array([1.0] + [np.nan] * 9)})
    rule = Contraction("y", tolerance=0.01, justification=JUST)
    assert rule.evaluate([good], bound=lambda p: p["g"]).passed is True
    _undecided(rule.evaluate([good, flat_nan], bound=lambda p: p["g"]), "1 of 2 runs have no fitted factor")


def test_rate_zero_width_fail_stands_but_zero_width_pass_is_undecided():
    # A mutant that never learns, deterministically: regret = K * gap on every seed, slope exactly 1.
    runs = _runs({(x, s): 0.3 * x for x in XS for s in range(6)})
    out = _rate(exponent=0.5, tolerance=0.1, sided="upper").evaluate(runs, None)
    assert out.passed is False and out.numbers["groups"][0]["ci"] == pytest.approx([1.0, 1.0])
    _undecided(_rate(exponent=1.0, tolerance=0.1, sided="upper").evaluate(runs, None), "zero width")
    # A plateau mutant against a decay claim fails even with min_change: no movement is a FAIL there.
    flat = _runs({(x, s): 2.0 + 0.01 * s for x in XS for s in range(6)})
    out = _rate(exponent=-0.5, tolerance=0.25, sided="upper", min_change=0.05).evaluate(flat, None)
    assert out.passed is False


def test_rate_seeds_differing_by_a_factor_only_count_as_zero_width():
    # Every seed's curve is the same power law times its own factor: resampled slopes agree up to
    # rounding, so the CI is "zero width" even if its ends differ in the last bits.
    runs = _runs({(x, s): (1.0 + 0.37 * s) * x ** 0.1 for x in XS for s in range(7)})
    out = _undecided(_rate(exponent=0.0, tolerance=0.3, sided="upper").evaluate(runs, None), "zero width")
    lo, hi = out.numbers["groups"][0]["ci"]
    assert lo == pytest.approx(0.1) and hi - lo <= 1e-9


# ---------------------------------------------------------------------------------------- Envelope
def _env(**kw):
    return Envelope("y", justification=JUST, **kw)


def _band(lo, hi):
    return lambda p: (lo, hi)


def test_envelope_passes_inside_fails_outside_either_side():
    runs = _runs({(1, s): [0.0, 10.0 + s] for s in range(5)})          # last entries 10..14, median 12
    out = _env().evaluate(runs, _band(11.0, 13.0))
    assert out.passed is True and out.numbers["points"][0]["statistic"] == 12.0
    assert out.numbers["points"][0]["position"] == pytest.approx(0.5)
    for band in ((12.5, 20.0), (0.0, 11.9)):
        out = _env().evaluate(runs, _band(*band))
        assert out.passed is False and out.numbers["outside"] == 1 and "outside the regression envelope" in out.summary
    # entry and center choose the statistic: max = last here; the mean of entries is 6.
    assert _env(entry="mean").evaluate(runs, _band(5.9, 6.1)).passed is True
    assert _env(center="mean").evaluate(runs, _band(11.99, 12.01)).passed is True


def test_envelope_is_labelled_a_regression_check():
    rule = _env()
    assert rule.regression and rule.kind == "envelope"
    assert rule.describe().startswith("REGRESSION CHECK (not a paper claim)")


def test_envelope_one_point_outside_fails_the_grid():
    runs = _runs({(x, s): float(x) for x in (1, 2, 3) for s in range(4)})
    table = EnvelopeTable([({"n": 1}, 0.5, 1.5), ({"n": 2}, 1.5, 2.5), ({"n": 3}, 1.0, 2.9)], why="test")
    out = _env().evaluate(runs, table)
    assert out.passed is False and out.numbers["outside"] == 1 and '{"n":3}' in out.summary


def test_envelope_nan_is_undecided_unless_it_cannot_matter():
    values = {(1, s): float(s) for s in range(5)}                        # median 2
    values[(1, 4)] = np.nan
    # The NaN run can be anything: the median of 0, 1, 2, 3, ? lies in [1, 2], across the edge 1.5.
    out = _undecided(_env().evaluate(_runs(values), _band(1.5, 2.5)), "either side of the envelope")
    assert out.numbers["points"][0]["statistic_range"] == [1.0, 2.0]
    # A band containing every possible median decides; one excluding all of them fails.
    out = _env().evaluate(_runs(values), _band(1.0, 2.5))
    assert out.passed is True and "in [1, 2] (NaN or censored runs)" in out.summary
    assert _env().evaluate(_runs(values), _band(5.0, 9.0)).passed is False
    # NaN everywhere: anything.
    _undecided(_env().evaluate(_runs({(1, s): np.nan for s in range(3)}), _band(0.0, 1.0)), "either side")


def test_envelope_censoring_direction_decides_or_not():
    def runs(values, marks):
        return [Run("claim", {"n": 1}, s, {"y": np.array([v]), "y:censored": np.array([m])})
                for s, (v, m) in enumerate(zip(values, marks))]
    rule = _env()
    # 1, "at least 2" (a budget cap), 5: the median is at least 2 and at most 5.
    r = runs([1.0, 2.0, 5.0], [0, 1, 0])
    assert _env().evaluate(runs([1.0, 2.0, 5.0], [0, 0, 1]), _band(1.5, 3.0)).passed is True   # median 2 whatever
    assert rule.evaluate(r, _band(1.5, 6.0)).passed is True          # 2..5 inside
    _undecided(rule.evaluate(r, _band(1.5, 3.0)), "censored")
    assert rule.evaluate(runs([1.0, 9.0, 9.0], [0, 1, 1]), _band(0.0, 5.0)).passed is False   # >= 9 > 5
    # At most 1 (censored from above) on two of three runs: the median is anything up to 1.
    _undecided(rule.evaluate(runs([1.0, 1.0, 1.0], [-1, -1, 0]), _band(0.5, 2.0)), "either side")


def test_envelope_flat_input_decides_like_any_other():
    # Every seed identical (a deterministic quantity): no spread is no problem for a band.
    runs = _runs({(1, s): 3.0 for s in range(6)})
    assert _env().evaluate(runs, _band(3.0, 3.0)).passed is True
    assert _env().evaluate(runs, _band(3.0 + 1e-9, 4.0)).passed is False


def test_envelope_unfitted_point_is_undecided_and_bad_band_is_an_error():
    runs = _runs({(x, s): 1.0 for x in (1, 2) for s in range(3)})
    table = EnvelopeTable([({"n": 1}, 0.0, 2.0)], why="test")
    _undecided(_env().evaluate(runs, table), "no envelope for 1 of 2 points", "proofs-check envelope")
    # ... unless another point is outside: that is a FAIL whatever the missing band says.
    assert _env().evaluate(runs, EnvelopeTable([({"n": 1}, 5.0, 6.0)], why="test")).passed is False
    _undecided(_env().evaluate([], table), "no runs")
    for band in ((2.0, 1.0), (np.nan, 1.0), (1.0,), 3.0):
        with pytest.raises(ValueError, match="bound"):
            _env().evaluate(runs, lambda p, b=band: b)


def test_envelope_table_validates_its_entries():
    with pytest.raises(ValueError, match="why"):
        EnvelopeTable([], why=" ")
    with pytest.raises(ValueError, match=r"points\[0\].*lo = 2.0 > hi = 1.0"):
        EnvelopeTable([({"n": 1}, 2.0, 1.0)], why="w")
    with pytest.raises(ValueError, match=r"points\[1\].*hi must be a number"):
        EnvelopeTable([({"n": 1}, 0.0, 1.0), ({"n": 2}, 0.0, np.nan)], why="w")
    with pytest.raises(ValueError, match="duplicate"):
        EnvelopeTable([({"n": 1}, 0.0, 1.0), ({"n": 1}, 0.0, 1.0)], why="w")
    with pytest.raises(ValueError, match="entry"):
        Envelope("y", justification=JUST, entry="first")
    with pytest.raises(ValueError, match="justification"):
        Envelope("y", justification="")
    table = EnvelopeTable([({"n": 1, "S": 2}, 0.0, np.inf)], why="w")
    assert table({"S": 2, "n": 1}) == (0.0, np.inf)      # key order irrelevant; one-sided band allowed


def _regret_runs(n_seeds, factor=1.0, seed=0, xs=(16, 64, 256), spread=0.1):
    rng = np.random.default_rng(seed)
    return [Run("claim", {"K": x}, s, {"regret": factor * np.sqrt(x) * np.exp(spread * rng.standard_normal(2))})
            for x in xs for s in range(n_seeds)]


def test_envelope_fit_keeps_correct_quick_runs_and_rejects_a_constant_factor_bug():
    """Fitted from 120 correct 'full' runs: fresh correct quick sweeps (8 seeds) stay inside, every
    sweep of a regret x 1.3 (or / 1.3) bug leaves the band."""
    rule = Envelope("regret", justification=JUST)
    points = [{"K": x} for x in (16, 64, 256)]
    fits = fit_envelope(rule, _regret_runs(120), points, seeds_quick=8, seed=0)
    table = EnvelopeTable([(f.params, f.lo, f.hi) for f in fits], why="test fit")
    for f in fits:
        assert f.lo < f.full_statistic < f.hi and f.raw[0] > f.lo and f.raw[1] < f.hi and f.n_full == 120
    verdicts = {"correct": [], "x1.3": [], "/1.3": []}
    for trial in range(1, 101):
        for name, factor in (("correct", 1.0), ("x1.3", 1.3), ("/1.3", 1 / 1.3)):
            verdicts[name].append(rule.evaluate(_regret_runs(8, factor, seed=trial), table).passed)
    assert sum(verdicts["correct"]) >= 99                      # 0.1% tails widened 25%: misses are rare
    assert not any(verdicts["x1.3"]) and not any(verdicts["/1.3"])


def test_envelope_fit_is_reproducible_and_printed_as_python():
    rule = Envelope("regret", justification=JUST)
    points = [{"K": 16}, {"K": 64}]
    a = fit_envelope(rule, _regret_runs(50, xs=(16, 64)), points, 8, seed=3)
    b = fit_envelope(rule, _regret_runs(50, xs=(16, 64)), points, 8, seed=3)
    assert a == b
    text = envelope_source("REGRET_ENVELOPE", a, why="fitted in a test")
    scope = {"EnvelopeTable": EnvelopeTable}
    exec(text, scope)
    table = scope["REGRET_ENVELOPE"]
    assert table({"K": 64}) == (a[1].lo, a[1].hi) and table.why == "fitted in a test"


def test_envelope_fit_deterministic_values_get_a_pin_not_zero_width():
    rule = Envelope("y", justification=JUST)
    runs = _runs({(1, s): 5.0 for s in range(10)})
    (fit,) = fit_envelope(rule, runs, [{"n": 1}], 4)
    assert fit.lo < 5.0 < fit.hi and fit.hi - fit.lo <= 1e-7


def test_envelope_fit_refuses_unknown_values_and_too_few_runs():
    rule = Envelope("y", justification=JUST)
    values = {(1, s): 1.0 for s in range(5)}
    values[(1, 3)] = np.nan
    with pytest.raises(ValueError, match="NaN or censored"):
        fit_envelope(rule, _runs(values), [{"n": 1}], 4)
    with pytest.raises(ValueError, match="1 runs at"):
        fit_envelope(rule, _runs({(1, 0): 1.0}), [{"n": 1}], 4)
    with pytest.raises(ValueError, match="0 runs at"):
        fit_envelope(rule, _runs({(1, 0): 1.0, (1, 1): 1.0}), [{"n": 2}], 4)
    with pytest.raises(ValueError, match="tail"):
        fit_envelope(rule, _runs({(1, 0): 1.0, (1, 1): 1.0}), [{"n": 1}], 4, tail=0.7)


# ---------------------------------------------------------------------------------------- power
from proofs_check.power import _FAST, _seed_matrix, outcome_probabilities  # noqa: E402
from proofs_check.rules import _group_by  # noqa: E402


def _relabelled(runs, row):
    """The runs of one seed resample (``row`` = positions in the sorted seed list), seeds renumbered."""
    seeds, table = _seed_matrix(runs, _group_by(runs, exclude=None))
    return [Run(r.variant, r.params, j, r.observed) for point_runs in table.values()
            for j, r in enumerate(point_runs[i] for i in row)], table


def _fast_matches_rule(rule, runs, bound, n_rows=40, seed=0, min_agreement=1.0):
    """Each resample's outcome on the vectorised path equals the rule's own evaluation of it."""
    rng = np.random.default_rng(seed)
    n = len({r.seed_index for r in runs})
    rows = [np.arange(n)] + [rng.integers(0, n, n) for _ in range(n_rows)]
    agree = 0
    for row in rows:
        sample, table = _relabelled(runs, row)
        own = rule.evaluate(sample, bound, seed=1).passed
        fast = _FAST[type(rule)](rule, table, bound, row[None, :], np.random.default_rng(2))
        got = True if fast["pass"] else (None if fast["undecided"] else False)
        agree += got == own
        if min_agreement == 1.0:
            assert got == own, (row, own, fast)
    assert agree >= min_agreement * len(rows), (agree, len(rows))


def test_power_fast_paths_reapply_each_rule_exactly():
    rng = np.random.default_rng(5)
    # BoundHolds (every run and quantile), some seeds violating, one NaN, one censored.
    values = {(x, s): [x - 1 + 1.2 * rng.random()] for x in (1, 2, 3) for s in range(8)}
    values[(2, 3)] = [np.nan]
    runs = _runs(values)
    c = runs[20]
    runs[20] = Run("claim", c.params, c.seed_index, {"y": c.observed["y"], "y:censored": np.array([1.0])})
    for rule in (BoundHolds("y"), BoundHolds("y", quantile=0.75)):
        _fast_matches_rule(rule, runs, lambda p: p["n"], n_rows=20)
    # HighProbability pooled and per point.
    hp_runs = _runs({(x, s): [float(rng.random() < 0.1)] for x in (1, 2) for s in range(30)})
    for rule in (HighProbability("y", delta=0.2), HighProbability("y", delta=0.3, per_point=True)):
        _fast_matches_rule(rule, hp_runs, lambda p: 0.5, n_rows=12)
    # Contraction: factors around the claimed one, one run without a fit.
    con = [Run("claim", {"g": 0.5}, s, {"y": (0.5 * (1 + 0.02 * rng.standard_normal())) ** np.arange(12)})
           for s in range(10)]
    con[4] = Run("claim", {"g": 0.5}, 4, {"y": np.array([1.0] + [np.nan] * 11)})
    _fast_matches_rule(Contraction("y", 0.01, JUST), con, lambda p: p["g"], n_rows=15)
    # Envelope, with a NaN run and a band the median sits near the edge of.
    env_values = {(x, s): [float(x) + rng.standard_normal()] for x in (1, 2) for s in range(9)}
    env_values[(1, 2)] = [np.nan]
    _fast_matches_rule(_env(), _runs(env_values), lambda p: (p["n"] - 0.3, p["n"] + 0.8))


def test_power_rate_path_agrees_with_the_rule_up_to_its_inner_bootstrap():
    # A slope near the edge of the band, so resamples go both ways; the inner bootstrap of the power
    # estimate (400 resamples, numpy percentile) differs from the rule's (scipy, 2000): most agree.
    runs = _power_law(-0.42, XS, n_seeds=12, noise=0.2, seed=4)
    _fast_matches_rule(_rate(), runs, None, n_rows=60, min_agreement=0.85)
    flat = _runs({(x, s): 500.0 for x in XS for s in range(6)})            # zero width: undecided
    _fast_matches_rule(_rate(exponent=0.0, tolerance=0.3, sided="upper"), flat, None, n_rows=5)


def test_power_probabilities_are_fractions_and_reproducible():
    runs = _power_law(-0.5, XS, n_seeds=10, noise=0.3, seed=1)
    a = outcome_probabilities(_rate(tolerance=0.2), runs, None, seed=7)
    b = outcome_probabilities(_rate(tolerance=0.2), runs, None, seed=7)
    assert a == b and a["resamples"] == 200 and "inner resamples" in a["method"]
    assert a["pass"] + a["fail"] + a["undecided"] == pytest.approx(1.0)
    assert outcome_probabilities(_rate(), [], None, seed=0) is None
    # A clear pass is passed by (nearly) every resample; a clear fail by none.
    sure = outcome_probabilities(BoundHolds("y"), _runs({(1, s): 0.1 for s in range(5)}), lambda p: 1.0, seed=0)
    assert sure["pass"] == 1.0
    never = outcome_probabilities(BoundHolds("y"), _runs({(1, s): 2.0 for s in range(5)}), lambda p: 1.0, seed=0)
    assert never["fail"] == 1.0


def test_power_of_a_rare_violation_is_the_chance_a_resample_contains_it():
    # One violating seed of 20: a resample misses it with probability (19/20)^20 = 0.358.
    values = {(1, s): 0.5 for s in range(20)}
    values[(1, 7)] = 2.0
    out = outcome_probabilities(BoundHolds("y"), _runs(values), lambda p: 1.0, seed=3)
    assert out["pass"] == pytest.approx((19 / 20) ** 20, abs=0.1)


def test_power_other_rules_are_re_evaluated_on_fewer_resamples():
    class Always(Rate):
        pass
    runs = _power_law(-0.5, XS, n_seeds=6, noise=0.1)
    out = outcome_probabilities(Always("y", "n", exponent=-0.5, tolerance=0.3, justification=JUST), runs, None, seed=0)
    assert out["resamples"] == 50 and "re-evaluated" in out["method"] and out["pass"] > 0.9


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=12),
       st.floats(-1e6, 1e6, allow_nan=False), st.floats(0, 1e6, allow_nan=False),
       st.sampled_from(["median", "mean"]))
def test_envelope_property_passes_iff_the_statistic_is_in_the_band(values, lo, width, center):
    runs = _runs({(1, s): [v] for s, v in enumerate(values)})
    out = Envelope("y", justification=JUST, center=center).evaluate(runs, _band(lo, lo + width))
    stat = float(np.median(values) if center == "median" else np.mean(values))
    assert out.passed is (lo <= stat <= lo + width)
