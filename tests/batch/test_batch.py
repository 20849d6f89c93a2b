"""Batch jobs in this process and in local worker processes: output, rejects, resume rules."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_data import Scored, read_output
from typer.testing import CliRunner

import shipyard
from shipyard import Client
from shipyard.batch.job import BatchJobFailed
from shipyard.cli.main import app
from shipyard.errors import Conflict, DeploymentNotFound, InvalidInput
from shipyard.monitoring.predlog import read_predictions


def _check_against_model(scored: Scored, out: pd.DataFrame, frame: pd.DataFrame) -> None:
    labels, probabilities = scored.expected(frame)
    assert len(out) == len(frame)
    assert np.array_equal(out["prediction"].to_numpy(), labels)
    assert np.allclose(out["proba_0"].to_numpy(), probabilities[:, 0], rtol=0, atol=1e-12)
    assert np.allclose(out["proba_1"].to_numpy(), probabilities[:, 1], rtol=0, atol=1e-12)
    assert set(out["model"]) == {"cancer"} and set(out["version"]) == {1}


@pytest.mark.parametrize(
    ("source", "chunk_rows"),
    [("all.parquet", 300), ("*.csv", 500), ("folder-of-csv", 1_000)],
)
def test_output_matches_in_process_predictions(
    scored: Scored, tmp_path, source: str, chunk_rows: int
) -> None:
    if source == "folder-of-csv":
        (tmp_path / "in").mkdir()  # one plain, one gzipped
        (tmp_path / "in" / "a.csv").write_bytes((scored.folder / "a.csv").read_bytes())
        (tmp_path / "in" / "b.csv.gz").write_bytes(
            gzip.compress((scored.folder / "b.csv").read_bytes())
        )
        input_spec = str(tmp_path / "in")
    else:
        input_spec = str(scored.folder / source)
    record = scored.client.batch_predict(
        "models:/cancer/1", input_spec, tmp_path / "out", chunk_rows=chunk_rows, job=None
    )
    assert record.status == "succeeded"
    assert record.rows_done == record.rows_total == 2_000 and record.rows_rejected == 0
    out = read_output(tmp_path / "out")
    _check_against_model(scored, out, scored.frame)
    assert out["row"].tolist() == list(range(2_000))  # input row numbers, in input order
    assert set(out["job"]) == {record.name}
    assert (tmp_path / "out" / "_SUCCESS").exists()
    assert not (tmp_path / "out" / "rejects.parquet").exists()


def test_a_dataset_version_and_an_id_column(scored: Scored, tmp_path) -> None:
    frame = scored.frame.assign(id=[f"r{i:05d}" for i in range(len(scored.frame))])
    dataset = scored.client.add_dataset("batch-input", frame)
    record = scored.client.batch_predict(
        "models:/cancer/1", dataset.uri, tmp_path / "out", id_column="id", chunk_rows=700
    )
    out = read_output(tmp_path / "out")
    assert record.rows_done == 2_000
    assert out["id"].tolist() == frame["id"].tolist()
    _check_against_model(scored, out, scored.frame)


def test_local_workers_give_the_same_output_as_one(scored: Scored, tmp_path) -> None:
    one = scored.client.batch_predict(
        "models:/cancer/1", scored.folder / "all.parquet", tmp_path / "one", chunk_rows=250
    )
    two = scored.client.batch_predict(
        "models:/cancer/1",
        scored.folder / "all.parquet",
        tmp_path / "two",
        chunk_rows=250,
        workers=2,
    )
    assert one.rows_done == two.rows_done == 2_000
    left = read_output(tmp_path / "one").drop(columns="job")
    right = read_output(tmp_path / "two").drop(columns="job")
    pd.testing.assert_frame_equal(left, right)


def _planted(scored: Scored, tmp_path, bad_rows: dict[int, tuple[str, object]]) -> str:
    """The CSV inputs with some cells replaced, as one CSV file."""
    frame = pd.concat(
        [pd.read_csv(scored.folder / "a.csv"), pd.read_csv(scored.folder / "b.csv")],
        ignore_index=True,
    ).astype({c: object for c in scored.frame.columns})
    for row, (column, value) in bad_rows.items():
        frame.loc[row, column] = value
    path = tmp_path / "planted.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_bad_rows_go_to_the_rejects_file_and_the_rest_is_scored(scored: Scored, tmp_path) -> None:
    bad = {
        3: ("mean radius", "abc"),
        700: ("worst area", ""),
        1_999: ("mean texture", "1.2.3"),
    }
    path = _planted(scored, tmp_path, bad)
    record = scored.client.batch_predict(
        "models:/cancer/1", path, tmp_path / "out", id_column="id", chunk_rows=400
    )
    assert record.status == "succeeded"  # 3 of 2,000 = 0.15% < 1%
    assert record.rows_rejected == 3 and record.rows_done == 2_000
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pandas()
    assert rejects["row"].tolist() == [3, 700, 1_999]
    assert rejects["id"].tolist() == ["r00003", "r00700", "r01999"]
    assert rejects["column"].tolist() == ["mean radius", "worst area", "mean texture"]
    assert "expected a number, got 'abc'" in rejects["reason"][0]
    assert "null" in rejects["reason"][1]
    out = read_output(tmp_path / "out")
    assert len(out) == 1_997 and not set(out["id"]) & {"r00003", "r00700", "r01999"}
    kept = scored.frame.drop(index=list(bad)).reset_index(drop=True)
    _check_against_model(scored, out, kept)


def test_the_job_fails_above_the_error_rate_and_says_how_many_and_where(
    scored: Scored, tmp_path
) -> None:
    bad = {row: ("mean radius", "oops") for row in range(0, 2_000, 50)}  # 40 rows = 2%
    path = _planted(scored, tmp_path, bad)
    with pytest.raises(BatchJobFailed) as failure:
        scored.client.batch_predict(
            "models:/cancer/1", path, tmp_path / "out", job="too-many", chunk_rows=500
        )
    message = str(failure.value)
    assert "of 2,000 rows rejected" in message and "--max-error-rate 0.01" in message
    assert "rejects.parquet" in message and "row 0 column 'mean radius'" in message
    assert scored.client.batch_job("too-many").status == "failed"
    assert len(pq.read_table(tmp_path / "out" / "rejects.parquet")) >= 11
    # With a budget that allows them, the same file passes.
    passed = scored.client.batch_predict(
        "models:/cancer/1", path, tmp_path / "out2", max_error_rate=0.05
    )
    assert passed.status == "succeeded" and passed.rows_rejected == 40


class FailsOnNegative(shipyard.PythonModel):
    """Raises when any row's ``x`` is negative: a per-row model error."""

    classes = (0, 1)

    def load(self, path: str) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] > 0.5).astype(np.int64)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame["x"].to_numpy(dtype=np.float64)
        if (x < 0).any():
            raise ValueError("x must not be negative")
        p = 1 / (1 + np.exp(-x))
        return np.column_stack([1 - p, p])


def test_rows_the_model_fails_on_are_isolated_and_rejected(sqlite_client: Client, tmp_path) -> None:
    frame = pd.DataFrame({"x": np.linspace(0, 5, 1_000)})
    sqlite_client.register_model(FailsOnNegative(), name="picky", sample_input=frame[:10])
    frame.loc[[10, 500, 501], "x"] = -1.0
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "in.parquet")
    record = sqlite_client.batch_predict(
        "models:/picky/1", tmp_path / "in.parquet", tmp_path / "out", chunk_rows=300
    )
    assert record.rows_rejected == 3
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pandas()
    assert rejects["row"].tolist() == [10, 500, 501]
    assert all(
        r.startswith("model error: ValueError: x must not be negative") for r in rejects["reason"]
    )
    out = read_output(tmp_path / "out")
    assert len(out) == 997 and out["row"].is_monotonic_increasing


def test_a_deployment_scores_with_its_primary_version_and_logs_predictions(
    scored: Scored, tmp_path, fitted_pipeline, breast_cancer
) -> None:
    client = scored.client
    X, _ = breast_cancer
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])  # v2
    client.set_alias("cancer", "champion", 2)
    client.create_deployment("batch-dep", "cancer@champion")
    record = client.batch_predict(
        "batch-dep", scored.folder / "all.parquet", tmp_path / "out", chunk_rows=800
    )
    assert (record.deployment, record.model, record.version) == ("batch-dep", "cancer", 2)
    out = read_output(tmp_path / "out")
    assert set(out["version"]) == {2}
    assert out["request_id"].nunique() == 3  # one per partition
    logged = read_predictions(client.store.artifacts, "batch-dep").to_pandas()
    assert len(logged) == 2_000 and set(logged["arm"]) == {"batch"}
    joined = out.merge(
        logged, left_on=["request_id", "request_row"], right_on=["request_id", "row"]
    )
    assert len(joined) == 2_000
    assert (joined["prediction_x"].astype(str) == joined["prediction_y"]).all()
    assert np.allclose(joined["proba_1"], joined["score"])


def test_a_finished_job_rerun_is_a_no_op_and_a_changed_rerun_is_refused(
    scored: Scored, tmp_path
) -> None:
    source = tmp_path / "in.parquet"
    source.write_bytes((scored.folder / "all.parquet").read_bytes())
    first = scored.client.batch_predict("models:/cancer/1", source, tmp_path / "out", job="once")
    again = scored.client.batch_predict("models:/cancer/1", source, tmp_path / "out", job="once")
    assert again.attempts == first.attempts == 1 and again.status == "succeeded"
    with pytest.raises(Conflict, match="was started with --chunk-rows 100000, not 10"):
        scored.client.batch_predict(
            "models:/cancer/1", source, tmp_path / "out", job="once", chunk_rows=10
        )
    with pytest.raises(Conflict, match="holds the output of batch job 'once'"):
        scored.client.batch_predict("models:/cancer/1", source, tmp_path / "out", job="other")


def test_clear_errors_for_bad_targets_and_inputs(scored: Scored, tmp_path) -> None:
    client = scored.client
    with pytest.raises(DeploymentNotFound):
        client.batch_predict("no-such-deployment", scored.folder / "all.parquet", tmp_path / "o")
    with pytest.raises(InvalidInput, match="no such file"):
        client.batch_predict("models:/cancer/1", tmp_path / "missing.csv", tmp_path / "o")
    narrow = tmp_path / "narrow.csv"
    scored.frame.drop(columns=["mean radius"]).to_csv(narrow, index=False)
    with pytest.raises(InvalidInput, match=r"narrow.csv: no column\(s\) \['mean radius'\]"):
        client.batch_predict("models:/cancer/1", narrow, tmp_path / "o")
    with pytest.raises(InvalidInput, match="give --workers or --scheduler"):
        client.batch_predict(
            "models:/cancer/1", narrow, tmp_path / "o", workers=2, scheduler="tcp://x:1"
        )


def test_cli_predict_and_jobs(scored: Scored, tmp_path) -> None:
    home = str(scored.client.settings.home)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--home",
            home,
            "batch",
            "predict",
            "models:/cancer/1",
            "--input",
            str(scored.folder / "all.parquet"),
            "--output",
            str(tmp_path / "out"),
            "--job",
            "cli-job",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "succeeded" and body["rows_done"] == 2_000
    listed = runner.invoke(app, ["--home", home, "batch", "jobs", "--json"])
    jobs = {j["name"]: j for j in json.loads(listed.stdout)}
    assert jobs["cli-job"]["rows_per_s"] > 0
    failed = runner.invoke(
        app,
        [
            "--home",
            home,
            "batch",
            "predict",
            "models:/cancer/1",
            "--input",
            str(tmp_path / "nope.parquet"),
            "--output",
            str(tmp_path / "o2"),
        ],
    )
    assert isinstance(failed.exception, InvalidInput)  # the console script prints it as one line
    assert "no such file" in str(failed.exception)


def test_shared_partitions_of_a_killed_coordinator_are_removed(scored: Scored, tmp_path) -> None:
    import os
    import subprocess

    from shipyard.batch import executors

    if not executors.SHARED_MEMORY.is_dir():
        pytest.skip("no /dev/shm here")
    finished = subprocess.Popen(["true"])
    finished.wait()
    orphan = executors.SHARED_MEMORY / f"shipyard-batch-{finished.pid}-3-abcd.arrow"
    orphan.write_bytes(b"x" * 10)
    mine = executors.SHARED_MEMORY / f"shipyard-batch-{os.getpid()}-0-live.arrow"
    mine.write_bytes(b"y")
    try:
        scored.client.batch_predict(
            "models:/cancer/1", scored.folder / "all.parquet", tmp_path / "o", workers=2
        )
        assert not orphan.exists()
        assert not mine.exists()  # a finished job leaves none of its own behind either
    finally:
        orphan.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)
