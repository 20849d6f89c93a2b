"""Simulated bandit traffic: Bernoulli arms, weights recomputed every ``batch`` requests.

Like the bandit controller, a policy sees only the rewards of finished windows
and sets the shares for the next one; requests inside a window are routed at
random by those shares (a hash router's behaviour). Regret is the pseudo-regret,
the expected reward lost against always serving the best arm given where each
request went, which has far less noise than the realized one.

Used by tests/abtest/test_bandit.py and benchmarks/bandit.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shipyard.abtest.bandit import ArmReward, thompson_weights
from shipyard.abtest.spec import DEFAULT_MAX_STEP

#: (rewards so far, the current shares, rng) -> the next shares.
Policy = Callable[[list[ArmReward], np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Run:
    regret: float
    weights: np.ndarray  # (windows, arms): the shares each window was routed with
    counts: np.ndarray  # (windows, arms): requests each arm got in each window


def simulate(
    policy: Policy,
    rates: Sequence[float],
    *,
    requests: int = 20_000,
    batch: int = 500,
    seed: int = 0,
) -> Run:
    rng = np.random.default_rng(seed)
    p = np.asarray(rates, dtype=float)
    k = len(p)
    weights = np.full(k, 1 / k)
    successes, trials = np.zeros(k), np.zeros(k)
    all_weights, all_counts = [], []
    regret = 0.0
    for start in range(0, requests, batch):
        size = min(batch, requests - start)
        counts = rng.multinomial(size, weights)
        successes += rng.binomial(counts, p)
        trials += counts
        regret += float(counts @ (p.max() - p))
        all_weights.append(weights)
        all_counts.append(counts)
        rewards = [ArmReward(float(s), float(n)) for s, n in zip(successes, trials, strict=True)]
        weights = np.asarray(policy(rewards, weights, rng), dtype=float)
    return Run(regret, np.array(all_weights), np.array(all_counts))


def fixed_split(
    rewards: list[ArmReward], previous: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    return np.full(len(rewards), 1 / len(rewards))


def epsilon_greedy(epsilon: float) -> Policy:
    """Send 1 - epsilon to the best empirical arm (ties at random), epsilon evenly to all."""

    def policy(
        rewards: list[ArmReward], previous: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        means = np.array([r.successes / r.trials if r.trials else np.inf for r in rewards])
        best = rng.choice(np.flatnonzero(means == means.max()))
        shares = np.full(len(rewards), epsilon / len(rewards))
        shares[best] += 1 - epsilon
        return shares

    return policy


def thompson(min_share: float, max_step: float = DEFAULT_MAX_STEP) -> Policy:
    def policy(
        rewards: list[ArmReward], previous: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(
            thompson_weights(
                rewards, previous=list(previous), min_share=min_share, max_step=max_step, rng=rng
            )
        )

    return policy
