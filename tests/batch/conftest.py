"""A registered classifier and its inputs as CSV and Parquet files, for batch tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_data import Scored

from shipyard import Client
from shipyard.config import StoreSettings


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory, fitted_pipeline, breast_cancer
) -> Iterator[Scored]:
    """The logistic pipeline as ``models:/cancer/1``; 2,000 input rows with an ``id`` column."""
    folder = tmp_path_factory.mktemp("batch")
    X, _ = breast_cancer
    rng = np.random.default_rng(7)
    frame = X.sample(n=2_000, replace=True, random_state=7).reset_index(drop=True)
    frame = frame * rng.uniform(0.9, 1.1, size=frame.shape)
    with Client(settings=StoreSettings(home=folder / "ws", user="tester")) as client:
        client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])
        with_ids = frame.assign(id=[f"r{i:05d}" for i in range(len(frame))])
        pq.write_table(pa.Table.from_pandas(with_ids), folder / "all.parquet", row_group_size=500)
        with_ids.iloc[:1_200].to_csv(folder / "a.csv", index=False)
        with_ids.iloc[1_200:].to_csv(folder / "b.csv", index=False)
        yield Scored(client, fitted_pipeline, frame, folder)
