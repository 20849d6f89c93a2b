"""Every manifest ``shipyard k8s`` writes is valid for Kubernetes 1.28..newest (strict:
no unknown field), and the custom resources match their CRD schemas."""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shipyard.packaging.k8s import Manifest
from tests.packaging.conftest import OPTION_SETS, by_kind
from tests.packaging.k8s_validation import (
    is_custom,
    validate_builtin,
    validate_custom,
    versions,
)

VERSIONS = versions()
EVERY_KIND = {
    "ConfigMap",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Job",
    "CronJob",
    "ServiceMonitor",
    "InferenceService",
}


def _as_applied(manifest: Manifest) -> dict:
    """The object as kubectl reads it: the rendered YAML, loaded back."""
    return yaml.safe_load(manifest.render("fraud"))


def test_the_option_sets_cover_every_kind(manifest_sets) -> None:
    kinds = {m.kind for manifests in manifest_sets.values() for m in manifests}
    assert kinds == EVERY_KIND
    assert VERSIONS[0] == "1.28" and len(VERSIONS) >= 5


@pytest.fixture(scope="module")
def builtin_objects(manifest_sets) -> dict[str, dict]:
    """Each distinct built-in object once (option sets share many), by where it came from."""
    unique: dict[str, tuple[str, dict]] = {}
    for key in OPTION_SETS:
        for manifest in manifest_sets[key]:
            obj = _as_applied(manifest)
            if not is_custom(obj):
                unique.setdefault(json.dumps(obj, sort_keys=True), (f"{key}/{manifest.path}", obj))
    return dict(unique.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_builtin_objects_pass_strict_validation(builtin_objects, version: str) -> None:
    for where, obj in builtin_objects.items():
        try:
            validate_builtin(obj, version)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{where} on {version}: {error}")
    assert len(builtin_objects) >= 20


def test_custom_resources_match_their_crds(manifest_sets) -> None:
    checked = 0
    for key in OPTION_SETS:
        for manifest in manifest_sets[key]:
            obj = _as_applied(manifest)
            if is_custom(obj):
                validate_custom(obj)
                checked += 1
    assert checked == 3  # two ServiceMonitors, one InferenceService


def test_strict_validation_rejects_an_unknown_field(manifest_sets) -> None:
    """The checks above can fail: a misspelt container field is caught on every path."""
    deployment = copy.deepcopy(by_kind(manifest_sets["default"], "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["portz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(deployment, VERSIONS[-1])

    isvc = copy.deepcopy(by_kind(manifest_sets["kserve"], "InferenceService")[0])
    isvc["spec"]["predictor"]["containers"][0]["portz"] = []
    with pytest.raises(jsonschema.ValidationError, match="portz"):
        validate_custom(isvc)

    isvc = copy.deepcopy(by_kind(manifest_sets["kserve"], "InferenceService")[0])
    isvc["spec"]["predictor"]["minReplicas"] = "two"
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        validate_custom(isvc)

    monitor = copy.deepcopy(by_kind(manifest_sets["full"], "ServiceMonitor")[0])
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        validate_custom(monitor)
