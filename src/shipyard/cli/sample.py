"""Reading sample rows for signatures from CSV or Parquet files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shipyard.errors import InvalidInput


def read_sample(path: Path, max_rows: int = 1000) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidInput(f"sample input {str(path)!r} is not a readable file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, nrows=max_rows)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).head(max_rows)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"cannot read sample input {str(path)!r}: {exc}") from exc
    raise InvalidInput(f"sample input {str(path)!r} must be .csv or .parquet")
