"""``shipyard.__all__`` lists exactly the public names, and each one exists."""

from __future__ import annotations

import inspect

import shipyard


def test_every_public_name_exists() -> None:
    for name in shipyard.__all__:
        assert hasattr(shipyard, name), name


def test_the_documented_surface() -> None:
    client_methods = {
        "search_runs",
        "get_model_version",
        "list_model_versions",
        "set_alias",
        "delete_alias",
        "register_model",
        "load_model",
        "start_run",
    }
    assert client_methods <= set(dir(shipyard.Client))
    params = inspect.signature(shipyard.Client.search_runs).parameters
    assert list(params)[1:5] == ["experiment", "filter", "order_by", "max_results"]
    assert params["max_results"].default == 100
    run_methods = {"log_params", "log_metrics", "log_artifact", "register_model"}
    assert run_methods <= set(dir(shipyard.ActiveRun))
    assert list(inspect.signature(shipyard.start_run).parameters)[:2] == ["experiment", "params"]
