"""Frequentist comparisons of two arms: fixed horizon, sequential (always valid) and CUPED.

Pure functions over numpy arrays (one value per unit, e.g. per user), so the
report can call them on whatever it reads; no I/O here.

Fixed horizon
    Rates: the pooled two-proportion z-test (the same p-value as Pearson's
    chi-square on the 2x2 table without continuity correction), with the
    unpooled Wald interval. Means: Welch's t-test, p-value and interval straight
    from ``scipy.stats.ttest_ind(equal_var=False)``.

Sequential
    The asymptotic confidence sequence of Waudby-Smith, Ramdas et al., *Time-
    uniform central limit theory and asymptotic confidence sequences* (arXiv
    2103.06476v7, eq. 9; rho from eq. 161; p-value from eq. 155), as GrowthBook
    implements it in ``packages/stats/gbstats/frequentist/tests.py``
    (``sequential_rho``, ``sequential_interval_halfwidth``,
    ``SequentialTwoSidedTTest.p_value``). There, with ``N = n_a + n_b`` and
    ``sigma_hat**2 = SE**2 * N`` (SE the standard error of the difference)::

        rho        = sqrt((-2 log a + log(-2 log a + 1)) / N*)
        half-width = sigma_hat * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) * log(sqrt(N rho^2 + 1) / a))
        p          = min(1, sqrt(N rho^2 + 1) * exp(-N rho^2 z^2 / (2 (N rho^2 + 1))))

    with ``z = difference / SE``. Both depend on N only through ``N rho^2``, a
    multiple of ``N / N*``, so we count N and N* per arm: ``N = (n_c + n_t) / 2``
    and ``N* = tuning_n``, the planned sample size per arm (the report passes
    :func:`required_sample_size`). The default, 2,500 per arm, is GrowthBook's
    default of 5,000 users in total. The interval is narrowest around N*; it is
    valid at every N. rho is tuned for the nominal alpha; the p-value is the
    smallest alpha at which the sequence with that rho excludes 0 at this look,
    so ``p < alpha`` exactly when the interval excludes 0 (a caller that keeps
    looks may report their running minimum).

CUPED
    With pre-period covariates (same unit, same order), ``compare_means`` uses
    ``Y - theta (X - mean(X))``, theta = cov(Y, X) / var(X) over both arms
    together (Deng et al. 2013). Rates take the same path: pass the 0/1 values
    to :func:`compare_means` with ``*_pre`` and the Welch test runs on the
    adjusted values (the result's ``metric_kind`` is then ``"mean"``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as st

from shipyard.errors import InvalidInput

#: Planned sample size per arm the sequential interval is tuned for when the caller names
#: none (GrowthBook's default of 5,000 users over two arms).
DEFAULT_TUNING_N = 2500
#: GrowthBook's default SRM threshold.
DEFAULT_SRM_THRESHOLD = 0.001

SEQUENTIAL = " + sequential (always valid)"
CUPED = " + CUPED"


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric; ``difference`` is treatment - control.

    With CUPED, ``difference`` and its interval are on the adjusted scale while
    ``control_mean``/``treatment_mean`` stay the raw arm means users recognise;
    ``relative`` divides the difference by the raw control mean.
    """

    metric_kind: str
    control_n: int
    treatment_n: int
    control_mean: float
    treatment_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    relative: float | None
    method: str
    sequential: bool
    cuped: bool
    cuped_theta: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sequential_rho(alpha: float, tuning_n: float) -> float:
    """The mixture's rho that makes the sequence narrowest at ``tuning_n`` (eq. 161)."""
    log_term = -2 * math.log(alpha)
    return math.sqrt((log_term + math.log(log_term + 1)) / tuning_n)


def confidence_sequence(
    difference: ArrayLike,
    standard_error: ArrayLike,
    n: ArrayLike,
    *,
    alpha: float = 0.05,
    tuning_n: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Always-valid interval (low, high) and p-value for a difference seen after ``n`` per arm.

    Broadcasts over arrays, so a simulation can evaluate every look of many
    experiments at once. ``standard_error`` is the plain (fixed-horizon) one.
    """
    _check_alpha(alpha)
    tuning = DEFAULT_TUNING_N if tuning_n is None else tuning_n
    if not tuning > 0:
        raise InvalidInput(f"tuning_n must be positive, got {tuning_n}")
    d = np.asarray(difference, dtype=float)
    se = np.asarray(standard_error, dtype=float)
    nr2 = np.asarray(n, dtype=float) * sequential_rho(alpha, tuning) ** 2
    half = se * np.sqrt((nr2 + 1) / nr2 * 2 * np.log(np.sqrt(nr2 + 1) / alpha))
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = np.where(se > 0, (d / se) ** 2, np.where(d == 0, 0.0, np.inf))
    p = np.minimum(1.0, np.sqrt(nr2 + 1) * np.exp(-nr2 * z2 / (2 * (nr2 + 1))))
    return d - half, d + half, p


def z_test_rates(
    control_successes: ArrayLike,
    control_n: ArrayLike,
    treatment_successes: ArrayLike,
    treatment_n: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Difference of rates, its unpooled standard error and the pooled z-test's p-value.

    Broadcasts over arrays of counts. A table with no success (or no failure) at
    all carries no evidence: p = 1.
    """
    sc, nc = np.asarray(control_successes, float), np.asarray(control_n, float)
    stt, nt = np.asarray(treatment_successes, float), np.asarray(treatment_n, float)
    pc, pt = sc / nc, stt / nt
    difference = pt - pc
    se = np.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
    pooled = (sc + stt) / (nc + nt)
    pooled_se = np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(pooled_se > 0, difference / pooled_se, 0.0)
    return difference, se, 2 * st.norm.sf(np.abs(z))


def compare_rates(
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    alpha: float = 0.05,
    sequential: bool = False,
    tuning_n: int | None = None,
) -> Comparison:
    """Compare two arms of 0/1 outcomes (conversion per unit)."""
    _check_alpha(alpha)
    c, t = _arm(control, "control"), _arm(treatment, "treatment")
    for name, values in (("control", c), ("treatment", t)):
        if not np.isin(values, (0.0, 1.0)).all():
            raise InvalidInput(f"{name} must hold only 0 and 1 for a rate")
    difference, se, p = (float(x) for x in z_test_rates(c.sum(), len(c), t.sum(), len(t)))
    if sequential:
        low, high, p = _sequential(difference, se, len(c), len(t), alpha, tuning_n)
    else:
        half = float(st.norm.ppf(1 - alpha / 2)) * se
        low, high = difference - half, difference + half
    method = "two-proportion z" + (SEQUENTIAL if sequential else "")
    return _comparison("rate", c, t, difference, low, high, p, method, sequential, None)


def compare_means(
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    alpha: float = 0.05,
    sequential: bool = False,
    tuning_n: int | None = None,
    control_pre: ArrayLike | None = None,
    treatment_pre: ArrayLike | None = None,
) -> Comparison:
    """Compare two arms' means (Welch); with ``*_pre`` covariates, on CUPED-adjusted values."""
    _check_alpha(alpha)
    c, t = _arm(control, "control"), _arm(treatment, "treatment")
    if len(c) < 2 or len(t) < 2:
        raise InvalidInput("a mean needs at least 2 values in each arm")
    theta = None
    yc, yt = c, t
    if control_pre is not None or treatment_pre is not None:
        if control_pre is None or treatment_pre is None:
            raise InvalidInput("CUPED needs both control_pre and treatment_pre")
        xc, xt = _arm(control_pre, "control_pre"), _arm(treatment_pre, "treatment_pre")
        if len(xc) != len(c) or len(xt) != len(t):
            raise InvalidInput("each *_pre array must have one value per value of its arm")
        theta, yc, yt = _cuped(c, t, xc, xt)
    difference = float(yt.mean() - yc.mean())
    if yc.var() == 0 and yt.var() == 0:  # no spread: t is undefined, the difference is exact
        low = high = difference
        p = 1.0 if difference == 0 else 0.0
    elif sequential:
        se = math.sqrt(yc.var(ddof=1) / len(yc) + yt.var(ddof=1) / len(yt))
        low, high, p = _sequential(difference, se, len(c), len(t), alpha, tuning_n)
    else:
        result = st.ttest_ind(yt, yc, equal_var=False)
        interval = result.confidence_interval(confidence_level=1 - alpha)
        low, high, p = float(interval.low), float(interval.high), float(result.pvalue)
    method = "welch t" + (CUPED if theta is not None else "") + (SEQUENTIAL if sequential else "")
    return _comparison("mean", c, t, difference, low, high, p, method, sequential, theta)


def required_sample_size(
    baseline_mean: float,
    baseline_variance: float,
    min_effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    treatment_variance: float | None = None,
) -> int:
    """Units per arm for a two-sided test to detect ``min_effect`` (absolute) at ``power``.

    Normal approximation: ``n = (var_c + var_t) (z_{1 - a/2} + z_power)^2 / effect^2``,
    with the treatment's variance taken equal to the baseline's unless given.
    For a rate the treatment's variance is known from the effect
    (``p_t (1 - p_t)``); passing it matters: a rise from 0.10 to 0.12 planned
    on the baseline variance alone reaches a power of ~0.77, not 0.80.
    With more than two arms alpha is split over the ``arms - 1`` comparisons
    with control (Bonferroni); a caller that already divided alpha passes the
    default ``arms=2``. ``baseline_mean`` is only checked.
    """
    _check_alpha(alpha)
    if not math.isfinite(baseline_mean):
        raise InvalidInput(f"baseline_mean must be finite, got {baseline_mean}")
    if not (math.isfinite(baseline_variance) and baseline_variance >= 0):
        raise InvalidInput(f"baseline_variance must be >= 0, got {baseline_variance}")
    if not (math.isfinite(min_effect) and min_effect > 0):
        raise InvalidInput(f"min_effect must be > 0 (absolute), got {min_effect}")
    if not 0 < power < 1:
        raise InvalidInput(f"power must be in (0, 1), got {power}")
    if arms < 2:
        raise InvalidInput(f"an experiment needs at least 2 arms, got {arms}")
    other = baseline_variance if treatment_variance is None else treatment_variance
    if not (math.isfinite(other) and other >= 0):
        raise InvalidInput(f"treatment_variance must be >= 0, got {treatment_variance}")
    z = st.norm.ppf(1 - alpha / (2 * (arms - 1))) + st.norm.ppf(power)
    return max(2, math.ceil((baseline_variance + other) * z**2 / min_effect**2))


@dataclass(frozen=True)
class SampleRatio:
    """Chi-square goodness of fit of assignments to the planned shares (a sample ratio mismatch
    means the split itself is broken, so no comparison of the arms can be trusted)."""

    observed: tuple[int, ...]
    expected_shares: tuple[float, ...]
    chi2: float
    p_value: float
    flagged: bool
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sample_ratio_test(
    observed: Sequence[int],
    expected_shares: Sequence[float],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SampleRatio:
    """Flag a sample ratio mismatch when the chi-square p-value is below ``threshold``."""
    counts = np.asarray(observed, dtype=float)
    shares = np.asarray(expected_shares, dtype=float)
    if counts.ndim != 1 or len(counts) < 2 or counts.shape != shares.shape:
        raise InvalidInput("observed and expected_shares need one value per arm (at least 2)")
    if (counts < 0).any() or not np.isfinite(counts).all() or counts.sum() == 0:
        raise InvalidInput(f"observed must be counts >= 0 with a positive total, got {observed}")
    if (shares <= 0).any() or not np.isfinite(shares).all():
        raise InvalidInput(f"expected_shares must be positive, got {expected_shares}")
    if not 0 < threshold < 1:
        raise InvalidInput(f"threshold must be in (0, 1), got {threshold}")
    result = st.chisquare(counts, shares / shares.sum() * counts.sum())
    p = float(result.pvalue)
    return SampleRatio(
        tuple(int(x) for x in observed),
        tuple(float(x) for x in expected_shares),
        float(result.statistic),
        p,
        p < threshold,
        threshold,
    )


def _cuped(
    c: NDArray[np.float64], t: NDArray[np.float64], xc: NDArray[np.float64], xt: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """theta over both arms, so the adjustment is the same function in each arm (no bias)."""
    y, x = np.concatenate([c, t]), np.concatenate([xc, xt])
    variance = float(x.var(ddof=1))
    theta = float(np.cov(y, x, ddof=1)[0, 1] / variance) if variance > 0 else 0.0
    center = float(x.mean())
    return theta, c - theta * (xc - center), t - theta * (xt - center)


def _sequential(
    difference: float, se: float, nc: int, nt: int, alpha: float, tuning_n: int | None
) -> tuple[float, float, float]:
    low, high, p = confidence_sequence(
        difference, se, (nc + nt) / 2, alpha=alpha, tuning_n=tuning_n
    )
    return float(low), float(high), float(p)


def _comparison(
    kind: str,
    c: NDArray[np.float64],
    t: NDArray[np.float64],
    difference: float,
    low: float,
    high: float,
    p: float,
    method: str,
    sequential: bool,
    theta: float | None,
) -> Comparison:
    control_mean = float(c.mean())
    return Comparison(
        metric_kind=kind,
        control_n=len(c),
        treatment_n=len(t),
        control_mean=control_mean,
        treatment_mean=float(t.mean()),
        difference=difference,
        ci_low=low,
        ci_high=high,
        p_value=p,
        relative=difference / control_mean if control_mean != 0 else None,
        method=method,
        sequential=sequential,
        cuped=theta is not None,
        cuped_theta=theta,
    )


def _arm(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0:
        raise InvalidInput(f"{name} must be a non-empty 1-d array of numbers")
    if not np.isfinite(array).all():
        raise InvalidInput(f"{name} holds NaN or infinite values")
    return array


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be in (0, 1), got {alpha}")
