"""Drift verdicts on planted data, and agreement with direct scipy computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from tests.monitoring.planted import drifted_columns, planted

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift import ColumnRule, DriftConfig, column_drift, dataset_drift
from shipyard.monitoring.profile import profile_frame


def test_default_tests_flag_exactly_the_planted_columns() -> None:
    reference, current = planted(10_000)
    result = dataset_drift(profile_frame(reference), current)
    assert set(result.drifted_columns) == drifted_columns()
    assert result.share == pytest.approx(8 / 25) and not result.drifted
    methods = {r.column: r.method for r in result.columns}
    assert methods["num_0"] == "wasserstein" and methods["cat_0"] == "jensenshannon"


def test_small_windows_use_p_value_tests_that_find_the_planted_shifts() -> None:
    reference, current = planted(800, seed=5)
    result = {r.column: r for r in dataset_drift(profile_frame(reference), current).columns}
    assert result["num_0"].method == "ks" and result["cat_0"].method == "chisquare"
    assert all(result[c].drifted for c in drifted_columns())


@pytest.mark.slow
def test_default_tests_flag_exactly_the_planted_columns_at_a_million_rows() -> None:
    reference, current = planted(1_000_000, seed=3)
    result = dataset_drift(profile_frame(reference), current)
    assert set(result.drifted_columns) == drifted_columns()


def test_verdicts_agree_with_scipy_on_the_same_data() -> None:
    reference, current = planted(10_000, seed=1)
    profiles = profile_frame(reference)
    for column in reference.columns:
        if column.startswith("num"):
            ours = column_drift(column, profiles[column], current[column])
            direct = stats.wasserstein_distance(reference[column], current[column])
            direct /= reference[column].std(ddof=0)
            assert ours.statistic == pytest.approx(direct, rel=0.02, abs=0.003)
            assert ours.drifted == (direct >= 0.1)
            small = column_drift(column, profiles[column], current[column][:800])
            ks = stats.ks_2samp(reference[column], current[column][:800])
            assert small.method == "ks"
            assert small.statistic == pytest.approx(ks.statistic, abs=0.003)
            assert small.drifted == (ks.pvalue < 0.05)
        else:
            ours = column_drift(column, profiles[column], current[column])
            ref = reference[column].value_counts(normalize=True).sort_index()
            cur = current[column].value_counts(normalize=True).sort_index()
            direct = jensenshannon(ref.to_numpy(), cur.to_numpy(), base=2)
            assert ours.statistic == pytest.approx(direct, rel=1e-9)
            small = column_drift(column, profiles[column], current[column][:800])
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
            "num_0": ColumnRule(threshold=0.0),
            "cat_3": ColumnRule("psi"),
        }
    )
    result = {r.column: r for r in dataset_drift(profiles, current, config).columns}
    assert result["num_14"].method == "psi" and result["num_14"].drifted
    assert result["num_0"].drifted  # threshold 0 flags any distance
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
