"""Fitted scikit-learn trees as plain NumPy arrays: export, save, load and predict.

A forest is flattened into concatenated node arrays so that it saves as data (``.npy`` files
plus a JSON header, no pickle). To predict, the arrays are handed back to scikit-learn's own
compiled ``Tree`` objects (``TreeArrays.compiled``), whose traversal is several times faster
than NumPy's from a few dozen rows on; a handful of rows, or a scikit-learn whose ``Tree`` no
longer takes them, use a vectorised NumPy traversal in which every (tree, row) pair advances
one level per step. Both give the same leaves.

Layout, for ``n_nodes`` nodes over all trees and ``n_leaves`` leaves:

- ``children`` ``(n_nodes, 2)`` int32: global indices of the left and right child; a leaf
  holds ``-(leaf index) - 1`` in both, so ``children[:, 0] < 0`` marks leaves.
- ``feature`` ``(n_nodes,)`` int32: the column a split reads (0 at leaves).
- ``threshold`` ``(n_nodes,)`` float32: scikit-learn's float64 threshold rounded down to the
  nearest float32. scikit-learn compares float32 inputs, and for a float32 ``x``,
  ``x <= t`` holds exactly when ``x <= round_down_f32(t)``, so the split is reproduced exactly
  in half the bytes.
- ``missing_left`` ``(n_nodes,)`` bool: where a NaN goes (``missing_go_to_left``).
- ``values`` ``(n_leaves, n_outputs)`` float64: class probabilities (normalised per leaf as
  ``DecisionTreeClassifier.predict_proba`` does, in class-index order) or regression values.
- ``roots`` ``(n_trees,)`` int64: the global index of each tree's root.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mlwright.errors import ArtifactError

__all__ = ["TreeArrays", "export_trees", "load_trees", "predict_trees", "save_trees"]

_FORMAT = "mlwright-tree-arrays/1"
_PAIRS = 1 << 21  # (tree, row) pairs traversed at once: bounds predict memory to ~100 MB
_FILES = ("children", "feature", "threshold", "missing_left", "values", "roots")
_FEW_ROWS = 16  # below this many rows the NumPy traversal beats a call per compiled tree
# scikit-learn spends 72 bytes per node against 17 here: larger forests are not compiled, so
# that compiling costs at most ~38 MB of memory
_COMPILE_NODES = 1 << 19

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TreeArrays:
    """The nodes of a fitted forest as concatenated arrays (see the module docstring)."""

    children: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    values: np.ndarray
    roots: np.ndarray

    @property
    def n_trees(self) -> int:
        """How many trees the arrays hold."""
        return int(self.roots.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (about the size saved on disk)."""
        return sum(int(getattr(self, name).nbytes) for name in _FILES)

    @property
    def n_features(self) -> int:
        """The number of input columns the splits read at least."""
        return int(self.feature.max()) + 1 if len(self.feature) else 0

    @cached_property
    def compiled(self) -> list[Any] | None:
        """One scikit-learn ``Tree`` per tree, rebuilt from the arrays (built on first use).

        Only their ``apply`` is used, so leaf values stay here. None when this scikit-learn's
        ``Tree`` does not take the node layout (its state format is internal), or for forests
        over ``_COMPILE_NODES`` nodes: predictions then use the NumPy traversal, with the same
        results.
        """
        if len(self.children) > _COMPILE_NODES:
            return None
        try:
            return _compile(self)
        except Exception as exc:  # an internal format changed: the NumPy traversal still works
            log.info("scikit-learn trees unavailable (%s); predicting with NumPy", exc)
            return None


def export_trees(
    trees: Sequence[Any], n_outputs: int, classes: np.ndarray | None = None
) -> TreeArrays:
    """Flatten fitted scikit-learn ``Tree`` objects (``estimator.tree_``) into arrays.

    Parameters
    ----------
    trees
        The ``tree_`` attribute of each fitted decision tree.
    n_outputs
        ``n_classes`` for a classifier, 1 for a regressor.
    classes
        For a classifier, the class index of each column of the trees' values (the forest's
        ``classes_``); a class missing from the training rows gets probability 0. ``None``
        for a regressor.
    """
    children, feature, threshold, missing, values, roots = [], [], [], [], [], []
    node_offset = leaf_offset = 0
    for tree in trees:
        left = np.asarray(tree.children_left, dtype=np.int64)
        right = np.asarray(tree.children_right, dtype=np.int64)
        is_leaf = left < 0
        leaf_ids = np.cumsum(is_leaf) - 1 + leaf_offset
        left = np.where(is_leaf, -leaf_ids - 1, left + node_offset)
        right = np.where(is_leaf, -leaf_ids - 1, right + node_offset)
        children.append(np.column_stack([left, right]))
        feature.append(np.where(is_leaf, 0, tree.feature))
        threshold.append(_round_down_f32(np.asarray(tree.threshold, dtype=np.float64)))
        go_left = getattr(tree, "missing_go_to_left", None)
        missing.append(np.zeros(len(left), bool) if go_left is None else np.asarray(go_left) > 0)
        values.append(_leaf_values(np.asarray(tree.value)[is_leaf], n_outputs, classes))
        roots.append(node_offset)
        node_offset += len(left)
        leaf_offset += int(is_leaf.sum())
    if node_offset >= np.iinfo(np.int32).max:
        raise ValueError(
            f"the forest has {node_offset} nodes; at most {np.iinfo(np.int32).max} fit the "
            "saved format. Use fewer trees or a larger min_samples_leaf."
        )
    return TreeArrays(
        children=np.concatenate(children).astype(np.int32),
        feature=np.concatenate(feature).astype(np.int32),
        threshold=np.concatenate(threshold),
        missing_left=np.concatenate(missing),
        values=np.concatenate(values),
        roots=np.asarray(roots, dtype=np.int64),
    )


def _round_down_f32(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each float64 threshold."""
    t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def _leaf_values(value: np.ndarray, n_outputs: int, classes: np.ndarray | None) -> np.ndarray:
    """Leaf values as probabilities in class-index order, or regression values."""
    if classes is None:
        return np.asarray(value[:, 0, :1], dtype=np.float64)
    proba = np.asarray(value[:, 0, :], dtype=np.float64)
    normaliser = proba.sum(axis=1)
    normaliser[normaliser == 0.0] = 1.0
    proba = proba / normaliser[:, None]
    full = np.zeros((len(proba), n_outputs))
    full[:, np.asarray(classes, dtype=np.int64)] = proba
    return full


def _compile(trees: TreeArrays) -> list[Any]:
    from sklearn.tree._tree import NODE_DTYPE, Tree

    ends = [*trees.roots[1:].tolist(), len(trees.children)]
    depths = _depths(trees)
    n_features = max(1, trees.n_features)
    compiled = []
    for root, end, depth in zip(trees.roots.tolist(), ends, depths.tolist(), strict=True):
        children = trees.children[root:end].astype(np.int64)
        leaf = children[:, 0] < 0
        nodes = np.zeros(end - root, dtype=NODE_DTYPE)
        nodes["left_child"] = np.where(leaf, -1, children[:, 0] - root)
        nodes["right_child"] = np.where(leaf, -1, children[:, 1] - root)
        nodes["feature"] = np.where(leaf, -2, trees.feature[root:end])
        nodes["threshold"] = np.where(leaf, -2.0, trees.threshold[root:end].astype(np.float64))
        nodes["missing_go_to_left"] = trees.missing_left[root:end]
        tree = Tree(n_features, np.ones(1, dtype=np.intp), 1)
        values = np.zeros((end - root, 1, 1))
        state = {"max_depth": depth, "node_count": end - root, "nodes": nodes, "values": values}
        tree.__setstate__(state)
        compiled.append(tree)
    return compiled


def _depths(trees: TreeArrays) -> np.ndarray:
    """The depth of each tree (a lone leaf: 0), walking all trees one level per step."""
    depth = np.zeros(trees.n_trees, dtype=np.int64)
    node, owner, level = trees.roots.copy(), np.arange(trees.n_trees), 0
    while len(node):
        depth[owner] = level
        inner = trees.children[node, 0] >= 0
        node = np.concatenate([trees.children[node[inner], 0], trees.children[node[inner], 1]])
        owner = np.concatenate([owner[inner], owner[inner]])
        level += 1
    return depth


def predict_trees(trees: TreeArrays, X: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """The mean over trees of each row's leaf values, ``(n_rows, n_outputs)``.

    Rows are cast to float32 as scikit-learn does; NaN follows ``missing_left``. Chunks of
    rows run on ``n_jobs`` threads (the traversals release the GIL); the result does not
    depend on ``n_jobs``.
    """
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if X32.ndim != 2 or X32.shape[1] < trees.n_features:
        raise ValueError(
            f"expected rows with at least {trees.n_features} columns, got shape {X32.shape}"
        )
    n_rows = X32.shape[0]
    out = np.empty((n_rows, trees.values.shape[1]))
    jobs = max(1, n_jobs)
    chunk = max(1, min(_PAIRS // max(1, trees.n_trees), -(-n_rows // jobs)))
    starts = range(0, n_rows, chunk)

    def run(start: int) -> None:
        out[start : start + chunk] = _mean_leaf_values(trees, X32[start : start + chunk])

    if jobs == 1 or len(starts) == 1:
        for start in starts:
            run(start)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(run, starts))
    return out


def _mean_leaf_values(trees: TreeArrays, X32: np.ndarray) -> np.ndarray:
    """The mean leaf values of a chunk of float32 rows."""
    m, n_features = X32.shape
    compiled = trees.compiled if m >= _FEW_ROWS else None
    if compiled is None:
        leaves = _leaves(trees, X32.ravel(), m, n_features)
    else:  # leaf node of each (tree, row), tree-major, as global leaf indices
        nodes = np.concatenate([tree.apply(X32) for tree in compiled]) + np.repeat(trees.roots, m)
        leaves = -np.take(trees.children[:, 0], nodes).astype(np.int64) - 1
    vals = trees.values[leaves].reshape(trees.n_trees, m, -1)
    # summed tree by tree, in the order scikit-learn's forests add them up: NumPy reduces a
    # leading axis by adding whole slices in turn (no pairwise summation there)
    mean: np.ndarray = np.add.reduce(vals, axis=0) / trees.n_trees
    return mean


def _leaves(trees: TreeArrays, flat: np.ndarray, m: int, n_features: int) -> np.ndarray:
    """The leaf index reached by each (tree, row) pair, tree-major.

    Pairs still inside a tree are kept compacted; each step moves all of them one level down.
    ``np.take`` rather than fancy indexing: it releases the GIL, so chunks run in parallel.
    """
    children = trees.children.ravel()  # node * 2 + goes_right
    node = np.repeat(trees.roots, m)
    row = np.tile(np.arange(m, dtype=np.int64) * n_features, trees.n_trees)
    pos = np.arange(len(node))
    leaves = np.empty(len(node), dtype=np.int64)
    while len(node):
        x = np.take(flat, row + np.take(trees.feature, node))
        goes_right = x > np.take(trees.threshold, node)  # False for NaN
        missing = np.isnan(x)
        if missing.any():
            goes_right[missing] = ~np.take(trees.missing_left, node[missing])
        # a leaf's children hold -(leaf index) - 1, so a pair stepping off a leaf finishes
        node = np.take(children, 2 * node + goes_right).astype(np.int64)
        finished = node < 0
        if finished.any():
            leaves[pos[finished]] = -node[finished] - 1
            inside = ~finished
            node, row, pos = node[inside], row[inside], pos[inside]
    return leaves


def save_trees(trees: TreeArrays, directory: Path) -> None:
    """Write the arrays as ``.npy`` files plus a ``trees.json`` header into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    header: dict[str, Any] = {"format": _FORMAT, "n_trees": trees.n_trees, "arrays": {}}
    for name in _FILES:
        array = getattr(trees, name)
        np.save(directory / f"{name}.npy", array, allow_pickle=False)
        header["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    (directory / "trees.json").write_text(json.dumps(header), encoding="utf-8")


def load_trees(directory: Path) -> TreeArrays:
    """Read arrays written by ``save_trees``, checking them against the header."""
    header_path = directory / "trees.json"
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"cannot read the tree header {header_path}: {exc}. Expected a file written by "
            "save_trees; re-save the model."
        ) from exc
    if header.get("format") != _FORMAT:
        raise ArtifactError(
            f"{header_path} has format {header.get('format')!r}, expected {_FORMAT!r}. "
            "Load it with the mlwright version that saved it, or retrain."
        )
    arrays: dict[str, np.ndarray] = {}
    for name in _FILES:
        array = np.load(directory / f"{name}.npy", allow_pickle=False)
        expected = header["arrays"][name]
        if array.dtype.str != expected["dtype"] or list(array.shape) != expected["shape"]:
            raise ArtifactError(
                f"{directory / name}.npy has dtype {array.dtype.str} and shape "
                f"{list(array.shape)}; the header says {expected['dtype']} and "
                f"{expected['shape']}. The file is truncated or replaced; re-save the model."
            )
        arrays[name] = array
    return TreeArrays(**arrays)
