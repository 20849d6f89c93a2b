"""The ``shipyard.Client`` methods for explanations (kept apart so client.py stays small).

Explanations need shap for tree models (``pip install 'shipyard[explain]'``) and the
monitoring stack; both are imported on first use, like the rest of monitoring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.registry.card import importance_section
from shipyard.sdk.operations import operation
from shipyard.security.permissions import Permission as P

if TYPE_CHECKING:
    from shipyard.entities import ModelVersion
    from shipyard.explain.importance import Importance
    from shipyard.explain.result import Explanation
    from shipyard.store import Store


def _explain() -> Any:
    from shipyard.explain import service

    return service


def _importance() -> Any:
    from shipyard.explain import importance

    return importance


class ExplainMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    if TYPE_CHECKING:

        def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

    @operation(P.READ_PREDICTIONS, uploads=("rows",))
    def explain(
        self,
        target: str,
        rows: Any,
        *,
        method: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Explanation:
        """Explain ``rows`` (a DataFrame or records) by a model URI (``models:/NAME/V``,
        ``models:/NAME@alias``) or by what a deployment serves now (its primary version).

        Exact for tree ensembles (TreeSHAP) and linear models (closed form), sampled
        with a budget for the rest (``approximate`` in each row). ``to_rows()`` gives
        the JSON the server answers.
        """
        uri = target
        if not target.startswith("models:/"):
            from shipyard.monitoring.service import serving_version

            uri = serving_version(self.store, target).uri
        return _explain().explain_version(self.store, uri, rows, method, progress)[1]

    @operation(P.DEPLOY, deployment="deployment")
    def compute_importance(self, deployment: str, *, sample_rows: int = 2000) -> Importance:
        """Mean |attribution| per column over a sample of the deployment's prediction log
        (its serving version's rows), stored on the version (the server does this in the
        background)."""
        return _importance().compute_importance(
            self.store, deployment, sample_rows=sample_rows, actor=self.actor
        )

    @operation(P.READ, model="name")
    def importance(self, name: str, version: int | str) -> Importance | None:
        """The version's stored global importance, or None if not computed yet."""
        found = self.get_model_version(name, version)
        return _importance().importance_of(self.store, found)

    @operation(P.READ, deployment="deployment")
    def serving_importance(self, deployment: str) -> Importance | None:
        """The stored importance of the version a deployment serves now, if computed."""
        from shipyard.monitoring.service import serving_version

        version = serving_version(self.store, deployment)
        return _importance().importance_of(self.store, version)

    @operation(P.READ, model="name")
    def model_card(self, name: str, version: int | str = "latest") -> str:
        """The version's model card, with its global feature importance once computed."""
        found = self.get_model_version(name, version)
        card = found.model_card
        importance = _importance().importance_of(self.store, found)
        if importance is None:
            return card
        section = importance_section(
            importance.ranked(),
            rows=importance.rows,
            method=importance.method,
            output_space=importance.output_space,
            source=f"deployment {importance.deployment}",
        )
        marker = "## Intended use and limitations"
        if marker in card:
            return card.replace(marker, section + "\n" + marker, 1)
        return card.rstrip("\n") + "\n\n" + section
