"""Offline validators for generated manifests (shared by the k8s tests).

Built-in kinds: ``kubernetes-validate`` in strict mode (unknown fields are errors)
for every Kubernetes version from 1.28 to the newest schema it ships. Custom
resources: the vendored CRD schemas (``schemas/README.md``) with jsonschema, made
strict by ``additionalProperties: false`` wherever the CRD does not preserve
unknown fields (the API server would prune them: a typo would vanish silently).
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
from kubernetes_validate.utils import latest_version

# kubernetes-validate reads and parses a version's 1.8 MB definitions file on every
# call; parse each file once per session (the parsed schemas are only read).
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.cache(
        kubernetes_validate.utils.schema_contents
    )

SCHEMAS = Path(__file__).parent / "schemas"
OLDEST = (1, 28)
CRD_FILES = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice-v1beta1.json.gz",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-v1.json",
}


def versions() -> list[str]:
    """1.28 .. the newest minor version kubernetes-validate ships."""
    major, newest = (int(part) for part in latest_version().split(".")[:2])
    assert (major, newest) >= OLDEST
    return [f"{major}.{minor}" for minor in range(OLDEST[1], newest + 1)]


def is_custom(obj: dict[str, Any]) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_FILES


def validate_builtin(obj: dict[str, Any], version: str) -> None:
    """Raises kubernetes_validate.ValidationError on any finding."""
    kubernetes_validate.validate(obj, version, strict=True)


@functools.cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    path = SCHEMAS / CRD_FILES[(api_version, kind)]
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    schema = _strict(json.loads(raw))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def validate_custom(obj: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError (the first of the errors, all listed)."""
    validator = crd_validator(obj["apiVersion"], obj["kind"])
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        listed = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        raise jsonschema.ValidationError(f"{len(errors)} error(s): {listed}")


def _strict(schema: Any) -> Any:
    """Close every object schema that lists its properties and does not keep unknown
    fields (``x-kubernetes-preserve-unknown-fields``) or declare additional ones."""
    if isinstance(schema, dict):
        schema = {
            key: {name: _strict(sub) for name, sub in value.items()}
            if key in ("properties", "patternProperties", "definitions")
            else _strict(value)
            for key, value in schema.items()
        }
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema
