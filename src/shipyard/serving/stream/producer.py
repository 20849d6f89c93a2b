"""Rows from a CSV or Parquet file (or a DataFrame) onto a stream, one message each.

The helper behind ``shipyard stream produce``: the quickstart, tests and the
benchmark enqueue work the way a producer would, one XADD per row with one
field per column, pipelined a chunk at a time so a large file never sits in
memory whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import redis

from shipyard.errors import InvalidInput
from shipyard.serving.stream.config import redacted_redis_url
from shipyard.serving.stream.errors import StreamUnavailable

CHUNK_ROWS = 5_000


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def row_fields(frame: pd.DataFrame) -> Iterator[dict[str, str]]:
    """One message's fields per row: Redis values are strings."""
    columns = [str(c) for c in frame.columns]
    for values in frame.itertuples(index=False, name=None):
        yield {name: _text(value) for name, value in zip(columns, values, strict=True)}


def read_chunks(path: str | Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """A CSV or Parquet file in chunks of about ``chunk_rows`` rows."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {str(path)!r}")
    if path.suffix.lower() in (".parquet", ".pq"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    elif path.suffix.lower() == ".csv":
        for batch in pacsv.open_csv(path):
            yield batch.to_pandas()
    else:
        raise InvalidInput(f"{str(path)!r}: use a .csv or .parquet file")


def produce(
    redis_url: str,
    stream: str,
    source: str | Path | pd.DataFrame,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """XADD each row of ``source``; returns the message ids, in row order."""
    chunks = [source] if isinstance(source, pd.DataFrame) else read_chunks(source)
    client = redis.Redis.from_url(redis_url, socket_timeout=30, socket_connect_timeout=10)
    ids: list[str] = []
    try:
        for chunk in chunks:
            for start in range(0, len(chunk), CHUNK_ROWS):
                pipe = client.pipeline(transaction=False)
                for fields in row_fields(chunk.iloc[start : start + CHUNK_ROWS]):
                    pipe.xadd(stream, fields)  # type: ignore[arg-type]
                added = [i.decode() for i in pipe.execute()]
                ids.extend(added)
                if progress is not None:
                    progress(len(added))
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StreamUnavailable(
            f"cannot reach Redis at {redacted_redis_url(redis_url)}: {exc}"
        ) from exc
    finally:
        client.close()
    return ids
