"""Model optimization: scikit-learn versions compiled to ONNX behind a parity gate."""

from shipyard.optimize.convert import ConversionFailed, MissingConverter
from shipyard.optimize.latency import LatencyReport
from shipyard.optimize.parity import ParityGateFailed, ParityReport
from shipyard.optimize.service import OPTIMIZE_TAG, OptimizeResult, optimize_version

__all__ = [
    "OPTIMIZE_TAG",
    "ConversionFailed",
    "LatencyReport",
    "MissingConverter",
    "OptimizeResult",
    "ParityGateFailed",
    "ParityReport",
    "optimize_version",
]
