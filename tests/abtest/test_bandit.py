"""Thompson-sampling shares: their constraints, and less regret than the simple policies."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from shipyard.abtest.bandit import (
    ArmReward,
    estimated_regret,
    posterior_best_probability,
    thompson_weights,
)
from shipyard.abtest.spec import DEFAULT_MAX_STEP, DEFAULT_MIN_SHARE
from shipyard.errors import InvalidInput
from tests.abtest.simulate import epsilon_greedy, fixed_split, simulate, thompson

SEEDS = 30
REQUESTS, BATCH = 20_000, 500


@pytest.mark.parametrize("rates", [(0.04, 0.05, 0.07), (0.10, 0.12, 0.15), (0.30, 0.32, 0.40)])
def test_thompson_regret_beats_a_fixed_split_and_epsilon_greedy(rates: tuple[float, ...]) -> None:
    runs = [
        simulate(thompson(DEFAULT_MIN_SHARE), rates, requests=REQUESTS, batch=BATCH, seed=s)
        for s in range(SEEDS)
    ]
    regret = {
        "thompson": np.mean([r.regret for r in runs]),
        "fixed": np.mean(
            [simulate(fixed_split, rates, batch=BATCH, seed=s).regret for s in range(SEEDS)]
        ),
        "epsilon": np.mean(
            [simulate(epsilon_greedy(0.1), rates, batch=BATCH, seed=s).regret for s in range(SEEDS)]
        ),
    }
    assert regret["thompson"] < regret["epsilon"] < regret["fixed"], regret
    for run in runs:
        assert (run.weights >= DEFAULT_MIN_SHARE - 1e-9).all()
        assert np.allclose(run.weights.sum(axis=1), 1)
        assert (np.abs(np.diff(run.weights, axis=0)) <= DEFAULT_MAX_STEP + 1e-9).all()
        # routing is random by the shares, so a window's realized share of a floored arm is
        # binomial: never below its one-in-a-million quantile
        lowest = st.binom.ppf(1e-6, BATCH, DEFAULT_MIN_SHARE)
        assert (run.counts >= lowest).all()


def test_shares_follow_the_posterior_within_floor_and_step() -> None:
    rng = np.random.default_rng(1)
    arms = [ArmReward(10, 1000), ArmReward(200, 1000), ArmReward(12, 1000)]
    free = thompson_weights(arms, min_share=0.0, rng=rng)
    assert free == pytest.approx([0.0, 1.0, 0.0])
    floored = thompson_weights(arms, min_share=0.05, rng=rng)
    assert floored == pytest.approx([0.05, 0.9, 0.05])
    stepped = thompson_weights(arms, previous=[0.4, 0.3, 0.3], min_share=0.05, rng=rng)
    # the winner moves up by the step; the two losers (both near 0) give it up alike
    assert stepped == pytest.approx([0.25, 0.5, 0.25])
    assert sum(stepped) == pytest.approx(1)


def test_the_floor_wins_over_the_step_when_previous_was_below_it() -> None:
    rng = np.random.default_rng(2)
    arms = [ArmReward(500, 1000), ArmReward(10, 1000), ArmReward(10, 1000)]
    shares = thompson_weights(arms, previous=[1.0, 0.0, 0.0], min_share=0.1, max_step=0.01, rng=rng)
    assert shares == pytest.approx([0.8, 0.1, 0.1])


def test_equal_arms_share_equally() -> None:
    arms = [ArmReward(50, 100)] * 4
    probability = posterior_best_probability(arms, draws=40_000, rng=np.random.default_rng(3))
    assert probability == pytest.approx([0.25] * 4, abs=0.01)
    assert estimated_regret(arms) == 0


def test_estimated_regret_weighs_each_arm_by_its_trials() -> None:
    arms = [ArmReward(8, 10), ArmReward(3, 10), ArmReward(0.5, 1)]  # means 0.75, 1/3, 0.5
    assert estimated_regret(arms) == pytest.approx(10 * (0.75 - 1 / 3) + 1 * (0.75 - 0.5))


def test_bad_input_is_refused() -> None:
    arms = [ArmReward(1, 2)] * 3
    with pytest.raises(InvalidInput, match="min_share"):
        thompson_weights(arms, min_share=0.4)
    with pytest.raises(InvalidInput, match="successes <= trials"):
        thompson_weights([ArmReward(3, 2), ArmReward(1, 2)])
    with pytest.raises(InvalidInput, match="previous"):
        thompson_weights(arms, previous=[0.5, 0.5])
    with pytest.raises(InvalidInput, match="max_step"):
        thompson_weights(arms, max_step=0)
    with pytest.raises(InvalidInput, match="at least one arm"):
        estimated_regret([])
