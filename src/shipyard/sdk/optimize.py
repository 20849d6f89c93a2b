"""The ``shipyard.Client`` method for model optimization (kept apart so client.py stays small)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from shipyard.sdk.operations import operation
from shipyard.security.permissions import Permission as P

if TYPE_CHECKING:
    from shipyard.optimize import OptimizeResult
    from shipyard.store import Store


class OptimizeMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    @operation(P.REGISTER, uploads=("sample",))
    def optimize(
        self,
        uri: str,
        *,
        sample: str | os.PathLike[str] | None = None,
        max_diff: float = 1e-5,
        to: str = "onnx",
        progress: Callable[[str], None] | None = None,
    ) -> OptimizeResult:
        """Convert a scikit-learn version to ONNX and register it as the model's next version.

        Registered only when the ONNX graph answers like its source on at least 1,000
        rows of ``sample`` (``datasets:/NAME/V`` or a CSV/Parquet file; default: the
        version's reference data): max |Δprobability| (|Δprediction| for regressors)
        at most ``max_diff`` and no label flips. Otherwise raises ``ParityGateFailed``
        showing the worst rows. The result carries the parity, latency and
        quantization reports, also stored as the new version's tags.
        """
        # skl2onnx and onnx load in seconds: only when optimizing, never on import.
        from shipyard.optimize import optimize_version

        return optimize_version(
            self.store,
            uri,
            sample=os.fspath(sample) if sample is not None else None,
            max_diff=max_diff,
            to=to,
            actor=self.actor,
            progress=progress,
        )
