"""Drift verdicts on planted data, and agreement with direct scipy computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from tests.monitoring.planted import Effect, drifted_columns, effect_frame, planted

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift import (
    EFFECT_FLOOR,
    ColumnRule,
    DriftConfig,
    column_drift,
    dataset_drift,
)
from shipyard.monitoring.profile import profile_frame


def test_default_tests_flag_exactly_the_planted_columns() -> None:
    reference, current = planted(10_000)
    result = dataset_drift(profile_frame(reference), current)
    assert set(result.drifted_columns) == drifted_columns()
    assert result.share == pytest.approx(8 / 25) and not result.drifted
    methods = {r.column: r.method for r in result.columns}
    assert methods["num_0"] == "ks_fdr" and methods["cat_0"] == "tvd_fdr"


def test_small_windows_find_the_planted_shifts_with_the_same_defaults() -> None:
    reference, current = planted(800, seed=5)
    result = {r.column: r for r in dataset_drift(profile_frame(reference), current).columns}
    assert result["num_0"].method == "ks_fdr" and result["cat_0"].method == "tvd_fdr"
    assert all(result[c].drifted for c in drifted_columns())


# The two drifts the old defaults (Wasserstein / std >= 0.1, Jensen-Shannon >= 0.1) missed.
SUBTLE = {"income": Effect("scale", 0.10), "segment": Effect("frequency", 0.05)}
UNCHANGED = {
    **{f"amount_{i}": Effect("scale", 0.0) for i in range(3)},
    **{f"score_{i}": Effect("mean", 0.0) for i in range(3)},
    **{f"channel_{i}": Effect("frequency", 0.0) for i in range(3)},
}


@pytest.mark.parametrize("seed", [0, 1])
def test_defaults_catch_a_ten_percent_scale_change_and_a_five_point_move_at_100k_rows(
    seed: int,
) -> None:
    reference, current = effect_frame({**SUBTLE, **UNCHANGED}, 100_000, seed=seed)
    result = dataset_drift(profile_frame(reference), current)
    assert set(result.drifted_columns) == set(SUBTLE)


def test_defaults_ignore_irrelevant_shifts_that_a_million_rows_make_significant() -> None:
    tiny = {"income": Effect("scale", 0.01), "segment": Effect("frequency", 0.005)}
    reference, current = effect_frame(tiny, 1_000_000, seed=4)
    result = {r.column: r for r in dataset_drift(profile_frame(reference), current).columns}
    assert all(r.p_adjusted is not None and r.p_adjusted < 0.05 for r in result.values())
    assert not any(r.drifted for r in result.values())
    assert all(r.statistic < EFFECT_FLOOR for r in result.values())


def test_significance_is_controlled_across_columns_with_benjamini_hochberg() -> None:
    # Alone, "c0" drifts (chi-square p = 0.020, 4.5% of rows moved); among five columns its
    # Benjamini-Hochberg adjusted p-value is 0.10, so the same counts are not drift.
    reference = pd.DataFrame({f"c{i}": ["x"] * 1000 + ["y"] * 1000 for i in range(5)})
    current = pd.DataFrame({f"c{i}": ["x"] * 500 + ["y"] * 500 for i in range(5)})
    current["c0"] = ["x"] * 545 + ["y"] * 455
    profiles = profile_frame(reference)
    alone = column_drift("c0", profiles["c0"], current["c0"])
    assert alone.p_value == pytest.approx(0.0201, abs=1e-4) and alone.drifted
    result = dataset_drift(profiles, current)
    raw = [r.p_value for r in result.columns]
    assert [r.p_adjusted for r in result.columns] == pytest.approx(
        list(stats.false_discovery_control(raw, method="bh"))
    )
    assert result.columns[0].p_adjusted == pytest.approx(5 * alone.p_value)
    assert result.drifted_columns == []
    looser = dataset_drift(profiles, current, DriftConfig(false_discovery_rate=0.2))
    assert looser.drifted_columns == ["c0"]


def test_ks_distance_counts_ties_once_so_unchanged_integer_columns_do_not_drift() -> None:
    rng = np.random.default_rng(7)
    reference = pd.DataFrame({"visits": rng.poisson(3, 50_000), "flag": rng.integers(0, 2, 50_000)})
    current = pd.DataFrame({"visits": rng.poisson(3, 20_000), "flag": rng.integers(0, 2, 20_000)})
    result = dataset_drift(profile_frame(reference), current)
    assert result.drifted_columns == []
    for r in result.columns:
        direct = stats.ks_2samp(reference[r.column], current[r.column])
        # 50k reference values are stored as a 2,001-point grid: exact to one grid step.
        assert r.statistic == pytest.approx(direct.statistic, abs=1 / 2000)
    shifted = current.assign(visits=current["visits"] + 1)
    assert dataset_drift(profile_frame(reference), shifted).drifted_columns == ["visits"]


@pytest.mark.slow
def test_default_tests_flag_exactly_the_planted_columns_at_a_million_rows() -> None:
    reference, current = planted(1_000_000, seed=3)
    result = dataset_drift(profile_frame(reference), current)
    assert set(result.drifted_columns) == drifted_columns()


def test_verdicts_agree_with_scipy_on_the_same_data() -> None:
    reference, current = planted(10_000, seed=1)
    profiles = profile_frame(reference)

    def named(column: str, method: str) -> DriftConfig:
        return DriftConfig(rules={column: ColumnRule(method)})

    for column in reference.columns:
        if column.startswith("num"):
            default = column_drift(column, profiles[column], current[column])
            ks = stats.ks_2samp(reference[column], current[column])
            assert default.method == "ks_fdr"
            assert default.statistic == pytest.approx(ks.statistic, abs=0.001)
            assert default.p_value == pytest.approx(ks.pvalue, rel=0.2, abs=1e-3)
            ours = column_drift(
                column, profiles[column], current[column], named(column, "wasserstein")
            )
            direct = stats.wasserstein_distance(reference[column], current[column])
            direct /= reference[column].std(ddof=0)
            assert ours.statistic == pytest.approx(direct, rel=0.02, abs=0.003)
            assert ours.drifted == (direct >= 0.1)
            small = column_drift(
                column, profiles[column], current[column][:800], named(column, "ks")
            )
            ks = stats.ks_2samp(reference[column], current[column][:800])
            assert small.statistic == pytest.approx(ks.statistic, abs=0.001)
            assert small.drifted == (ks.pvalue < 0.05)
        else:
            ref = reference[column].value_counts(normalize=True).sort_index()
            cur = current[column].value_counts(normalize=True).sort_index()
            default = column_drift(column, profiles[column], current[column])
            assert default.method == "tvd_fdr"
            assert default.statistic == pytest.approx(0.5 * (ref - cur).abs().sum(), rel=1e-9)
            ours = column_drift(
                column, profiles[column], current[column], named(column, "jensenshannon")
            )
            direct = jensenshannon(ref.to_numpy(), cur.to_numpy(), base=2)
            assert ours.statistic == pytest.approx(direct, rel=1e-9)
            small = column_drift(
                column, profiles[column], current[column][:800], named(column, "chisquare")
            )
            table = [
                reference[column].value_counts().sort_index().to_numpy(),
                current[column][:800].value_counts().sort_index().to_numpy(),
            ]
            chi = stats.chi2_contingency(table, correction=False)
            assert small.statistic == pytest.approx(chi.statistic, rel=1e-6)
            assert small.drifted == (chi.pvalue < 0.05)


def test_methods_and_thresholds_are_configurable_per_column() -> None:
    reference, current = planted(5_000, seed=2)
    profiles = profile_frame(reference)
    config = DriftConfig(
        rules={
            "num_14": ColumnRule("psi", 0.05),
            "num_0": ColumnRule("wasserstein", 0.0),
            "num_15": ColumnRule(threshold=0.9),
            "cat_3": ColumnRule("psi"),
        }
    )
    result = {r.column: r for r in dataset_drift(profiles, current, config).columns}
    assert result["num_14"].method == "psi" and result["num_14"].drifted
    assert result["num_0"].drifted  # threshold 0 flags any distance
    # The default's threshold is its effect floor: significant, but not 90% of rows apart.
    assert result["num_15"].method == "ks_fdr" and not result["num_15"].drifted
    assert result["num_15"].p_adjusted is not None and result["num_15"].p_adjusted < 1e-6
    assert result["cat_3"].method == "psi"
    with pytest.raises(InvalidInput, match="unknown drift method"):
        column_drift(
            "num_0",
            profiles["num_0"],
            current["num_0"],
            DriftConfig(rules={"num_0": ColumnRule("magic")}),
        )
    with pytest.raises(InvalidInput, match="does not apply"):
        column_drift(
            "cat_0",
            profiles["cat_0"],
            current["cat_0"],
            DriftConfig(rules={"cat_0": ColumnRule("ks")}),
        )
    with pytest.raises(InvalidInput, match="lacks reference column"):
        dataset_drift(profiles, current.drop(columns=["num_3"]))


def test_unseen_categories_and_empty_windows() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    profiles = profile_frame(reference)
    unseen = column_drift("c", profiles["c"], pd.Series(["a"] * 40 + ["z"] * 60))
    assert unseen.drifted
    empty = column_drift("c", profiles["c"], pd.Series([], dtype=object))
    assert not empty.drifted and empty.n_current == 0
    assert np.isnan(empty.statistic)
