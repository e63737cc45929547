"""One contract suite over every learner in the catalog: fit, predict, save, load, determinism,
deadline."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mlwright.models import base
from mlwright.models.base import Learner
from mlwright.models.catalog import CATALOG

TASKS = ["binary", "multiclass", "regression"]


def _data(task: str, kind: str, n: int = 300) -> tuple[object, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 5))
    signal = X[:, 0] + 0.5 * X[:, 1]
    if task == "binary":
        y = (signal + rng.normal(0, 0.5, n) > 0).astype(int)
    elif task == "multiclass":
        y = np.digitize(signal, [-0.7, 0.7])
    else:
        y = 3 * signal + rng.normal(0, 0.1, n)
    return (sp.csr_matrix(X) if kind == "linear" else X), y


def _n_classes(task: str) -> int:
    return {"binary": 2, "multiclass": 3, "regression": 0}[task]


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("task", TASKS)
def test_fit_predict_save_load_deterministic(name: str, task: str, tmp_path: Path):
    cls: type[Learner] = CATALOG[name]
    X_all, y_all = _data(task, cls.input_kind, n=400)
    # a held-out validation part, as bagging gives each learner: early stopping has to trigger
    X, y, X_val, y_val = X_all[:300], y_all[:300], X_all[300:], y_all[300:]  # type: ignore[index]
    params = cls.portfolio(task)[0]  # type: ignore[arg-type]
    fit = {"X_val": X_val, "y_val": y_val}
    a = cls(task, _n_classes(task), params, seed=3).fit(X, y, **fit)  # type: ignore[arg-type]
    b = cls(task, _n_classes(task), params, seed=3).fit(X, y, **fit)  # type: ignore[arg-type]
    pa = a.predict(X)  # type: ignore[arg-type]
    np.testing.assert_array_equal(pa, b.predict(X))  # type: ignore[arg-type]
    if task == "regression":
        assert pa.shape == (len(y),)
        assert np.corrcoef(pa, y)[0, 1] > 0.9
    else:
        assert pa.shape == (len(y), _n_classes(task))
        np.testing.assert_allclose(pa.sum(axis=1), 1.0)
        assert (pa.argmax(axis=1) == y).mean() > 0.7
    a.save(tmp_path)
    assert not list(tmp_path.rglob("*.pkl"))
    loaded = cls.load(tmp_path, task, _n_classes(task))  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict(X), pa)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_predictions_do_not_depend_on_threads(name: str, monkeypatch: pytest.MonkeyPatch):
    cls: type[Learner] = CATALOG[name]
    X, y = _data("multiclass", cls.input_kind)
    learner = cls("multiclass", 3, cls.portfolio("multiclass")[0], seed=3, n_jobs=2).fit(X, y)
    assert learner.predict_threads(1) == 1  # one row never starts a thread team
    one_thread = learner.predict(X)  # type: ignore[arg-type]
    monkeypatch.setattr(base, "SMALL_BATCH", 0)
    monkeypatch.setattr(base, "SMALL_TREE_WORK", 0)
    assert learner.predict_threads(len(y)) == 2
    np.testing.assert_allclose(learner.predict(X), one_thread, rtol=0, atol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_declares_search_space_and_portfolio(name: str):
    cls = CATALOG[name]
    for task in TASKS:
        assert cls.search_space(task)  # type: ignore[arg-type]
        assert cls.portfolio(task)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_respects_deadline(name: str):
    cls = CATALOG[name]
    rng = np.random.default_rng(0)
    n = 20_000
    X = rng.normal(size=(n, 20))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    Xm = sp.csr_matrix(X) if cls.input_kind == "linear" else X
    params = {**cls.portfolio("binary")[0], "learning_rate": 0.001}
    start = time.monotonic()
    cls("binary", 2, params).fit(Xm, y, X_val=Xm, y_val=y, deadline=start + 0.5)
    assert time.monotonic() - start < 3.0
