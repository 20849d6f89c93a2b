"""The floor: a bare FastAPI app calling ``predict_proba`` on a one-row array per request.

Run by the benchmark as ``uvicorn bare_app:app --loop uvloop --http httptools``
(one worker). ``BARE_MODELS_DIR`` holds ``<name>.joblib`` files; each is served
at ``POST /predict/<name>`` with ``{"data": [[...one row...]]}`` and answers
``{"probabilities": [[...]]}``. No validation, batching, metrics or threads.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import orjson
from fastapi import FastAPI, Request, Response

# The models were fitted on a DataFrame; a bare matrix makes scikit-learn warn per call.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

MODELS: dict[str, Any] = {
    path.stem: joblib.load(path)
    for path in sorted(Path(os.environ.get("BARE_MODELS_DIR", ".")).glob("*.joblib"))
}

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, list[str]]:
    """Ready as soon as the module imported (models load at import)."""
    return {"models": sorted(MODELS)}


@app.post("/predict/{name}")
async def predict(name: str, request: Request) -> Response:
    """One model call on the posted row(s), directly on the event loop."""
    model = MODELS.get(name)
    if model is None:
        return Response(b'{"error": "unknown model"}', status_code=404)
    payload = orjson.loads(await request.body())
    matrix = np.asarray(payload["data"], dtype=np.float64)
    probabilities = model.predict_proba(matrix)
    return Response(
        orjson.dumps({"probabilities": probabilities}, option=orjson.OPT_SERIALIZE_NUMPY),
        media_type="application/json",
    )
