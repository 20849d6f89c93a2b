"""Thompson-sampling traffic shares for a multi-armed bandit over model versions.

Rewards are bounded in [0, 1] and each arm keeps a Beta(1 + successes, 1 +
failures) posterior (a fractional reward counts fractionally). An update gives
each arm the posterior probability that it is the best one ("randomized
probability matching", Scott 2010; as GrowthBook's bandits do), then
projects those shares onto what the controller allows:

- every arm keeps at least ``min_share`` (the exploration floor), so a losing
  arm still gets data and a change in the world can still be noticed;
- no arm moves more than ``max_step`` (a share) from the previous update, so a
  burst of lucky rewards cannot swing all traffic at once.

The projection is the Euclidean one onto {floor <= w, |w - previous| <= step,
sum w = 1}: one shift applied to every arm not held at a bound.

The default floor (``spec.DEFAULT_MIN_SHARE``, kept there so the CLI need not import
numpy to show it) comes from ``benchmarks/bandit.py``:
with three arms a 0.05 floor parks 10% of traffic on the two losers, more than
epsilon-greedy (0.1) does, and loses to it on regret; 0.01 beats it on the
rate sets in the issue (not on a tiny gap such as 0.10/0.10/0.11, where no
floor does; NOTES-abstats.md has the tables). GrowthBook's
``min_variation_weight`` default is 0.01 too (``gbstats/bayesian/bandits.py``,
which applies it as an additive mix rather than a projection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from shipyard.abtest.spec import DEFAULT_MAX_STEP, DEFAULT_MIN_SHARE
from shipyard.errors import InvalidInput

#: Posterior draws per update; the Monte Carlo error of a share is below 0.005.
DEFAULT_DRAWS = 10_000


@dataclass(frozen=True)
class ArmReward:
    """What one arm earned: the sum of its rewards in [0, 1] and how many it got."""

    successes: float
    trials: float


def posterior_best_probability(
    arms: Sequence[ArmReward], *, draws: int = DEFAULT_DRAWS, rng: np.random.Generator | None = None
) -> list[float]:
    """The probability (Monte Carlo over ``draws``) that each arm has the highest reward rate."""
    alpha, beta = _posterior(arms)
    if draws < 1:
        raise InvalidInput(f"draws must be >= 1, got {draws}")
    generator = rng if rng is not None else np.random.default_rng()
    samples = generator.beta(alpha[:, None], beta[:, None], size=(len(arms), draws))
    best = np.bincount(samples.argmax(axis=0), minlength=len(arms))
    return [float(x) for x in best / draws]


def thompson_weights(
    arms: Sequence[ArmReward],
    *,
    previous: Sequence[float] | None = None,
    min_share: float = DEFAULT_MIN_SHARE,
    max_step: float = DEFAULT_MAX_STEP,
    draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator | None = None,
) -> list[float]:
    """Traffic shares (summing to 1) for the next period, one per arm, in order."""
    k = len(arms)
    if not (math.isfinite(min_share) and min_share >= 0 and min_share * k <= 1):
        raise InvalidInput(f"min_share {min_share:g} x {k} arms must be in [0, 1]")
    if not (math.isfinite(max_step) and 0 < max_step <= 1):
        raise InvalidInput(f"max_step must be in (0, 1], got {max_step}")
    target = np.asarray(posterior_best_probability(arms, draws=draws, rng=rng))
    low = np.full(k, min_share)
    high = np.ones(k)
    if previous is not None:
        prev = np.asarray(previous, dtype=float)
        if prev.shape != (k,) or not np.isfinite(prev).all() or (prev < 0).any():
            raise InvalidInput(f"previous must hold {k} shares >= 0, got {list(previous)}")
        prev = prev / prev.sum() if prev.sum() > 0 else np.full(k, 1 / k)
        low = np.maximum(low, prev - max_step)
        high = np.minimum(high, prev + max_step)
        if low.sum() > 1:  # a previous split below the floor: the floor wins over the step
            low = np.full(k, min_share)
        if high.sum() < 1:
            high = np.ones(k)
        high = np.maximum(high, low)
    return [float(x) for x in _project(target, low, high)]


def estimated_regret(arms: Sequence[ArmReward]) -> float:
    """Reward lost so far against always serving the best arm, by posterior means:
    the sum over arms of trials x (best posterior mean - the arm's posterior mean)."""
    alpha, beta = _posterior(arms)
    means = alpha / (alpha + beta)
    trials = np.array([a.trials for a in arms], dtype=float)
    return float((trials * (means.max() - means)).sum())


def _project(
    target: NDArray[np.float64], low: NDArray[np.float64], high: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Closest point to ``target`` in the box [low, high] whose entries sum to 1.

    ``sum(clip(target + shift, low, high))`` grows with the shift, so the shift is a root.
    """

    def excess(shift: float) -> float:
        return float(np.clip(target + shift, low, high).sum() - 1)

    shift = 0.0 if excess(0.0) == 0 else brentq(excess, -1.0, 1.0, xtol=1e-12)
    shares = np.clip(target + shift, low, high)
    return shares / shares.sum()


def _posterior(arms: Sequence[ArmReward]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if len(arms) == 0:
        raise InvalidInput("a bandit needs at least one arm")
    successes = np.array([a.successes for a in arms], dtype=float)
    trials = np.array([a.trials for a in arms], dtype=float)
    if not (np.isfinite(trials).all() and (successes >= 0).all() and (successes <= trials).all()):
        raise InvalidInput(f"each arm needs 0 <= successes <= trials, got {list(arms)}")
    return 1 + successes, 1 + trials - successes
