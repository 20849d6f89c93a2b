"""Missing-value routing for forests, which skl2onnx's tree converter leaves out.

scikit-learn trees (>= 1.3) send a NaN down the side recorded per node in
``tree_.missing_go_to_left``; skl2onnx writes every node of a
RandomForest/ExtraTrees/DecisionTree with ``nodes_missing_value_tracks_true
= 0``, so onnxruntime sends NaN down the other side wherever the tree learned
"left" (onnx/sklearn-onnx#1253). The converter numbers nodes as scikit-learn
does and gives tree ``i`` of ``estimators_`` the id ``i``, so the flags can be
copied across. The parity gate (NaN rows included) checks the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.estimators import FORESTS

_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return _final_step(steps[-1][1]) if steps else estimator


def _trees(forest: Any) -> list[Any]:
    return [t.tree_ for t in getattr(forest, "estimators_", [forest])]


def add_missing_routing(onnx_bytes: bytes, estimator: Any) -> bytes:
    """The graph with each forest node's NaN side as scikit-learn learned it."""
    forest = _final_step(estimator)
    if type(forest).__name__ not in FORESTS:
        return onnx_bytes
    trees = _trees(forest)
    if not all(hasattr(t, "missing_go_to_left") for t in trees):
        return onnx_bytes
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    nodes = [n for n in model.graph.node if n.op_type in _TREE_OPS]
    if len(nodes) != 1:
        return onnx_bytes
    attributes = {a.name: a for a in nodes[0].attribute}
    tree_ids = list(attributes["nodes_treeids"].ints)
    node_ids = list(attributes["nodes_nodeids"].ints)
    modes = [m.decode() for m in attributes["nodes_modes"].strings]
    flags = [
        0 if mode == "LEAF" else int(np.asarray(trees[tree].missing_go_to_left)[node])
        for tree, node, mode in zip(tree_ids, node_ids, modes, strict=True)
    ]
    name = "nodes_missing_value_tracks_true"
    kept = [a for a in nodes[0].attribute if a.name != name]
    del nodes[0].attribute[:]
    nodes[0].attribute.extend([*kept, onnx.helper.make_attribute(name, flags)])
    return bytes(model.SerializeToString())
