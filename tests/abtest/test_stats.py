"""The statistics hold what they promise on simulated experiments (issue 15's criteria).

Every simulation is seeded; tolerances are three binomial standard errors of
the simulated rate, so a test fails only if the method is off, not by chance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from shipyard.abtest import stats
from shipyard.errors import InvalidInput

ALPHA = 0.05


def _se(rate: float, sims: int) -> float:
    return math.sqrt(rate * (1 - rate) / sims)


# --- fixed horizon: p-values are scipy's -------------------------------------------------


@pytest.mark.parametrize(
    ("nc", "pc", "nt", "pt"), [(500, 0.1, 500, 0.13), (200, 0.5, 900, 0.45), (50, 0.02, 80, 0.1)]
)
def test_rate_p_value_is_chi_square_without_correction(
    nc: int, pc: float, nt: int, pt: float
) -> None:
    rng = np.random.default_rng(nc)
    c, t = rng.binomial(1, pc, nc), rng.binomial(1, pt, nt)
    table = [[c.sum(), nc - c.sum()], [t.sum(), nt - t.sum()]]
    result = stats.compare_rates(c, t)
    assert result.p_value == pytest.approx(
        st.chi2_contingency(table, correction=False).pvalue, rel=1e-9
    )
    assert result.difference == pytest.approx(t.mean() - c.mean())
    se = math.sqrt(c.mean() * (1 - c.mean()) / nc + t.mean() * (1 - t.mean()) / nt)
    assert result.ci_high - result.difference == pytest.approx(1.959964 * se, rel=1e-6)


def test_mean_p_value_and_interval_are_welchs() -> None:
    rng = np.random.default_rng(3)
    c, t = rng.lognormal(0, 1, 400), rng.lognormal(0.1, 1.3, 700)
    result = stats.compare_means(c, t, alpha=0.1)
    welch = st.ttest_ind(t, c, equal_var=False)
    interval = welch.confidence_interval(0.9)
    assert result.p_value == pytest.approx(welch.pvalue, rel=1e-12)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high))
    assert result.method == "welch t" and not result.cuped and not result.sequential


# --- A/A: false positives at the nominal rate ---------------------------------------------


def test_aa_false_positive_rate_is_alpha_for_rates_and_means() -> None:
    rng = np.random.default_rng(11)
    sims, n = 1000, 800
    rates = [stats.compare_rates(*rng.binomial(1, 0.1, (2, n))).p_value for _ in range(sims)]
    means = [stats.compare_means(*rng.lognormal(0, 1, (2, n))).p_value for _ in range(sims)]
    tolerance = 3 * _se(ALPHA, sims)
    for p in (rates, means):
        assert abs(np.mean(np.array(p) < ALPHA) - ALPHA) <= tolerance


def test_sequential_aa_false_positive_rate_stays_below_alpha() -> None:
    rng = np.random.default_rng(12)
    sims, n = 600, 800
    rates = [
        stats.compare_rates(*rng.binomial(1, 0.1, (2, n)), sequential=True).p_value
        for _ in range(sims)
    ]
    means = [
        stats.compare_means(*rng.normal(0, 1, (2, n)), sequential=True).p_value for _ in range(sims)
    ]
    for p in (rates, means):
        assert np.mean(np.array(p) < ALPHA) <= ALPHA


# --- peeking: every 100 units per arm, up to 5,000 -----------------------------------------

SIMS, PEEK, HORIZON = 1000, 100, 5000


def _peeked_rates(seed: int) -> tuple[np.ndarray, ...]:
    """Cumulative successes per arm at each look, shape (sims, looks)."""
    rng = np.random.default_rng(seed)
    looks = HORIZON // PEEK
    sc = rng.binomial(PEEK, 0.1, (SIMS, looks)).cumsum(axis=1)
    st_ = rng.binomial(PEEK, 0.1, (SIMS, looks)).cumsum(axis=1)
    n = PEEK * np.arange(1, looks + 1)
    return sc, st_, n


def _peeked_means(seed: int) -> tuple[np.ndarray, ...]:
    """Running mean and sd per arm at each look, from skewed (lognormal) values."""
    rng = np.random.default_rng(seed)
    looks = HORIZON // PEEK
    sums, squares = np.zeros((2, SIMS, looks)), np.zeros((2, SIMS, looks))
    for look in range(looks):
        block = rng.lognormal(0, 1, (2, SIMS, PEEK))
        sums[:, :, look] = block.sum(axis=2)
        squares[:, :, look] = (block**2).sum(axis=2)
    n = PEEK * np.arange(1, looks + 1)
    total, total_sq = sums.cumsum(axis=2), squares.cumsum(axis=2)
    mean = total / n
    sd = np.sqrt((total_sq - n * mean**2) / (n - 1))
    return mean[0], sd[0], mean[1], sd[1], n


def test_peeking_inflates_fixed_horizon_rates_but_not_sequential() -> None:
    sc, st_, n = _peeked_rates(21)
    difference, se, p_fixed = stats.z_test_rates(sc, n, st_, n)
    _, _, p_seq = stats.confidence_sequence(difference, se, n, alpha=ALPHA, tuning_n=HORIZON)
    fixed_fpr = np.mean((p_fixed < ALPHA).any(axis=1))
    sequential_fpr = np.mean((p_seq < ALPHA).any(axis=1))
    assert fixed_fpr > ALPHA + 6 * _se(ALPHA, SIMS), fixed_fpr  # ~0.3: peeking breaks it
    assert sequential_fpr <= ALPHA, sequential_fpr
    # the vectorised path is the one compare_rates takes
    rng = np.random.default_rng(0)
    c, t = rng.binomial(1, 0.1, 700), rng.binomial(1, 0.1, 700)
    one = stats.compare_rates(c, t, sequential=True, tuning_n=HORIZON)
    d, s, _ = stats.z_test_rates(c.sum(), 700, t.sum(), 700)
    low, high, p = stats.confidence_sequence(d, s, 700, alpha=ALPHA, tuning_n=HORIZON)
    assert (one.ci_low, one.ci_high, one.p_value) == pytest.approx((low, high, p))


def test_peeking_inflates_fixed_horizon_means_but_not_sequential() -> None:
    mc, sdc, mt, sdt, n = _peeked_means(22)
    p_fixed = st.ttest_ind_from_stats(mt, sdt, n, mc, sdc, n, equal_var=False).pvalue
    se = np.sqrt(sdc**2 / n + sdt**2 / n)
    _, _, p_seq = stats.confidence_sequence(mt - mc, se, n, alpha=ALPHA, tuning_n=HORIZON)
    fixed_fpr = np.mean((p_fixed < ALPHA).any(axis=1))
    sequential_fpr = np.mean((p_seq < ALPHA).any(axis=1))
    assert fixed_fpr > ALPHA + 6 * _se(ALPHA, SIMS), fixed_fpr
    assert sequential_fpr <= ALPHA, sequential_fpr


def test_confidence_sequence_is_growthbooks_and_its_p_value_is_where_it_excludes_zero() -> None:
    # gbstats counts N and N* over both arms (N = n_a + n_b); we count both per arm.
    difference, se, per_arm, tuning = 0.02, 0.008, 3000, 2500
    n, n_star = 2 * per_arm, 2 * tuning
    rho2 = (-2 * math.log(ALPHA) + math.log(-2 * math.log(ALPHA) + 1)) / n_star
    s2 = se**2 * n
    half = math.sqrt(
        s2 * 2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / ALPHA)
    )
    low, high, _ = stats.confidence_sequence(difference, se, per_arm, alpha=ALPHA, tuning_n=tuning)
    assert (float(low), float(high)) == pytest.approx((difference - half, difference + half))
    # a difference right at the half-width has p = alpha; p < alpha exactly when 0 is excluded
    _, _, p = stats.confidence_sequence(half, se, per_arm, alpha=ALPHA, tuning_n=tuning)
    assert float(p) == pytest.approx(ALPHA)
    grid = np.linspace(0, 2 * half, 401)
    low, high, p = stats.confidence_sequence(grid, se, per_arm, alpha=ALPHA, tuning_n=tuning)
    assert ((p < ALPHA) == ((low > 0) | (high < 0)))[np.abs(grid - half) > 1e-12].all()


def test_sequential_interval_is_wider_than_the_fixed_one() -> None:
    rng = np.random.default_rng(5)
    c, t = rng.normal(0, 1, 2000), rng.normal(0.1, 1, 2000)
    fixed = stats.compare_means(c, t)
    sequential = stats.compare_means(c, t, sequential=True)
    assert sequential.ci_low < fixed.ci_low and sequential.ci_high > fixed.ci_high
    assert sequential.p_value > fixed.p_value
    assert sequential.method == "welch t + sequential (always valid)"


# --- planted effects are found at the planned power ----------------------------------------


def test_planted_rate_effect_is_detected_at_the_planned_power() -> None:
    base, effect, power = 0.10, 0.02, 0.8
    n = stats.required_sample_size(
        base, base * (1 - base), effect, power=power, treatment_variance=0.12 * 0.88
    )
    assert n == 3839  # (0.09 + 0.1056) (1.96 + 0.84)^2 / 0.02^2
    rng = np.random.default_rng(31)
    sims = 1000
    found = [
        stats.compare_rates(rng.binomial(1, base, n), rng.binomial(1, base + effect, n)).p_value
        < ALPHA
        for _ in range(sims)
    ]
    assert np.mean(found) >= power - 3 * _se(power, sims)


def test_planted_mean_effect_is_detected_at_the_planned_power() -> None:
    power = 0.8
    n = stats.required_sample_size(10.0, 16.0, 0.5, power=power)
    assert n == 1005
    rng = np.random.default_rng(32)
    sims = 1000
    found = [
        stats.compare_means(rng.normal(10, 4, n), rng.normal(10.5, 4, n)).p_value < ALPHA
        for _ in range(sims)
    ]
    assert np.mean(found) >= power - 3 * _se(power, sims)


def test_required_sample_size_splits_alpha_over_treatments() -> None:
    two = stats.required_sample_size(0.1, 0.09, 0.01)
    four = stats.required_sample_size(0.1, 0.09, 0.01, arms=4)
    assert four == stats.required_sample_size(0.1, 0.09, 0.01, alpha=0.05 / 3)
    assert four > two
    with pytest.raises(InvalidInput):
        stats.required_sample_size(0.1, 0.09, 0.0)


# --- sample ratio mismatch ---------------------------------------------------------------


def test_srm_flags_a_45_55_split_of_a_50_50_experiment() -> None:
    assert stats.sample_ratio_test([4500, 5500], [0.5, 0.5]).flagged
    balanced = stats.sample_ratio_test([5000, 5000], [0.5, 0.5])
    assert not balanced.flagged and balanced.p_value == pytest.approx(1.0)
    assert balanced.to_dict()["threshold"] == stats.DEFAULT_SRM_THRESHOLD


def test_srm_false_flag_rate_on_true_50_50_splits_is_the_threshold() -> None:
    rng = np.random.default_rng(41)
    sims, threshold = 10_000, 0.01
    first = rng.binomial(10_000, 0.5, sims)
    flags = sum(
        stats.sample_ratio_test([a, 10_000 - a], [0.5, 0.5], threshold=threshold).flagged
        for a in first
    )
    assert st.binomtest(flags, sims, threshold).pvalue > 0.001, flags / sims


# --- CUPED ---------------------------------------------------------------------------------


def test_cuped_narrows_the_interval_without_bias() -> None:
    rng = np.random.default_rng(51)
    sims, n, effect = 300, 1000, 0.1
    widths, estimates = [], []
    for _ in range(sims):
        pre = rng.normal(5, 2, (2, n))
        post = 1 + 0.9 * pre + rng.normal(0, 1, (2, n))  # correlation ~0.87
        post[1] += effect
        plain = stats.compare_means(post[0], post[1])
        cuped = stats.compare_means(post[0], post[1], control_pre=pre[0], treatment_pre=pre[1])
        assert cuped.cuped and cuped.cuped_theta == pytest.approx(0.9, abs=0.1)
        widths.append((cuped.ci_high - cuped.ci_low) / (plain.ci_high - plain.ci_low))
        estimates.append(cuped.difference)
    assert np.mean(widths) < 0.55  # sqrt(1 - 0.87**2) ~ 0.49
    assert abs(np.mean(estimates) - effect) < 3 * np.std(estimates) / math.sqrt(sims)


def test_cuped_on_rates_goes_through_compare_means() -> None:
    rng = np.random.default_rng(52)
    pre = rng.binomial(1, 0.3, (2, 2000)).astype(float)
    post = np.where(rng.random((2, 2000)) < 0.7, pre, rng.binomial(1, 0.3, (2, 2000)))
    result = stats.compare_means(post[0], post[1], control_pre=pre[0], treatment_pre=pre[1])
    plain = stats.compare_rates(post[0], post[1])
    assert result.method == "welch t + CUPED" and result.metric_kind == "mean"
    assert result.ci_high - result.ci_low < 0.8 * (plain.ci_high - plain.ci_low)


# --- edges --------------------------------------------------------------------------------


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="only 0 and 1"):
        stats.compare_rates([0, 1, 2], [0, 1])
    with pytest.raises(InvalidInput, match="non-empty"):
        stats.compare_rates([], [0, 1])
    with pytest.raises(InvalidInput, match="NaN"):
        stats.compare_means([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(InvalidInput, match="both"):
        stats.compare_means([1.0, 2.0], [1.0, 2.0], control_pre=[1.0, 2.0])
    with pytest.raises(InvalidInput, match="one value per value"):
        stats.compare_means([1.0, 2.0], [1.0, 2.0], control_pre=[1.0], treatment_pre=[1.0, 2.0])
    with pytest.raises(InvalidInput, match="alpha"):
        stats.compare_rates([0, 1], [0, 1], alpha=1.5)
    with pytest.raises(InvalidInput):
        stats.sample_ratio_test([10], [1.0])


def test_degenerate_arms_give_an_exact_answer() -> None:
    zeros = stats.compare_rates([0, 0, 0], [0, 0, 0])
    assert zeros.p_value == 1.0 and zeros.relative is None and zeros.difference == 0
    flat = stats.compare_means([1.0, 1.0], [2.0, 2.0])
    assert (flat.difference, flat.ci_low, flat.ci_high, flat.p_value) == (1.0, 1.0, 1.0, 0.0)
    as_dict = flat.to_dict()
    assert as_dict["metric_kind"] == "mean" and as_dict["relative"] == 1.0
