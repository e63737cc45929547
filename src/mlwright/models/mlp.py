"""A tabular neural network: categorical embeddings and robustly scaled numbers into an MLP.

Trained with PyTorch (the optional ``[nn]`` extra, ``torch==2.13.0``), saved as plain NumPy
arrays, and run at prediction time in NumPy alone: a saved model needs no torch to serve.

The recipe follows RealMLP's tuned defaults where they matter on small data (Holzmüller et al.,
2024): numbers centred on the median, scaled by the interquartile range and smoothly clipped;
an embedding per categorical column; SiLU layers; AdamW with a decaying learning rate; early
stopping on the validation rows, keeping the best epoch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax

from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.search.space import Float, Int, SearchSpace

__all__ = ["MLPLearner"]

_MAX_EPOCHS = 300
_PATIENCE = 12  # epochs without a better validation loss before stopping
_BATCH = 256
_CLIP = 3.0  # smooth clipping of scaled numbers: x / sqrt(1 + (x / 3)^2)


def _silu(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x * expit(x)
    return out


class MLPLearner(Learner):
    """Multilayer perceptron with categorical embeddings, for the ``tree`` encoding (raw numbers
    and category codes)."""

    name = "mlp"
    priority = 20
    input_kind = "tree"

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        return {
            "lr": Float(3e-4, 1e-2, log=True),
            "hidden": Int(64, 512, log=True),
            "layers": Int(1, 4),
            "dropout": Float(0.0, 0.4),
            "weight_decay": Float(1e-6, 1e-2, log=True),
            "embedding_dim": Int(2, 16, log=True),
        }

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        return [
            {"lr": 0.003, "hidden": 256, "layers": 3, "dropout": 0.15, "weight_decay": 1e-4,
             "embedding_dim": 8},
            {"lr": 0.001, "hidden": 512, "layers": 2, "dropout": 0.3, "weight_decay": 1e-3,
             "embedding_dim": 4},
        ]  # fmt: skip

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        # forward and backward passes: ~6 flops per weight per row per epoch, ~40 epochs before
        # early stopping; measured ~20 GFLOP/s on 2 cores (1.05 s per epoch, 20,000 x 14)
        hidden = float(params.get("hidden", 256))
        layers = int(params.get("layers", 3))
        width = max(1, n_features) * float(params.get("embedding_dim", 8))
        weights = width * hidden + (layers - 1) * hidden * hidden + hidden * max(1, n_classes)
        seconds = 1.0 + 6.0 * weights * n_rows * 40 / 2e10
        return seconds, 8.0 * n_rows * max(1, n_features) * 4 + 16.0 * weights

    # -- preprocessing (NumPy, shared by fit and predict) --------------------------------------
    def _prepare(self, X: Matrix) -> tuple[np.ndarray, np.ndarray]:
        """(scaled numbers with missing indicators, category indices) for rows of ``X``."""
        dense = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)  # type: ignore[union-attr]
        num = dense[:, self.numeric_]
        missing = np.isnan(num)
        scaled = (np.where(missing, self.median_, num) - self.median_) / self.scale_
        scaled = scaled / np.sqrt(1.0 + (scaled / _CLIP) ** 2)
        numbers = np.hstack([scaled, missing[:, self.missing_cols_].astype(np.float64)])
        codes = dense[:, self.categorical_]
        # 0 = missing, 1..k = known codes, k+1 = anything unseen
        index = np.where(np.isnan(codes), 0, codes + 1)
        index = np.clip(index, 0, self.cardinality_ - 1).astype(np.int64)
        return numbers, index

    def _fit_scaling(self, X: np.ndarray, categorical: list[int]) -> None:
        self.categorical_ = sorted(categorical)
        self.numeric_ = [i for i in range(X.shape[1]) if i not in set(self.categorical_)]
        num = X[:, self.numeric_]
        with np.errstate(all="ignore"):
            median = np.nanmedian(num, axis=0) if num.size else np.zeros(0)
            q75, q25 = (np.nanpercentile(num, q, axis=0) for q in (75, 25))
            std = np.nanstd(num, axis=0)
        median = np.nan_to_num(median)
        scale = np.where((q75 - q25) > 0, (q75 - q25) / 1.349, std)  # the IQR of N(0, 1) is 1.349
        self.median_ = median
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.missing_cols_ = np.flatnonzero(np.isnan(num).any(axis=0)).astype(np.int64)
        codes = X[:, self.categorical_]
        top = np.nanmax(np.where(np.isnan(codes), -1, codes), axis=0) if codes.size else []
        self.cardinality_ = np.asarray([int(t) + 3 for t in top], dtype=np.int64).reshape(-1)

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        X: Matrix,
        y: np.ndarray,
        *,
        X_val: Matrix | None = None,
        y_val: np.ndarray | None = None,
        categorical: list[int] | None = None,
        deadline: float | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        import torch  # the [nn] extra; prediction needs only NumPy

        dense = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)  # type: ignore[union-attr]
        self._fit_scaling(dense, categorical or [])
        if self.task == "regression":
            self.y_mean_ = float(np.mean(y))
            self.y_scale_ = float(np.std(y)) or 1.0
        torch.manual_seed(self.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.n_jobs))
        try:
            net = self._network(torch)
            self._train(torch, net, X, y, X_val, y_val, deadline, sample_weight)
        finally:
            torch.set_num_threads(threads)
        self.arrays_ = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in
                        net.state_dict().items()}  # fmt: skip
        return self

    def _network(self, torch: Any) -> Any:
        nn = torch.nn
        dim = int(self.params.get("embedding_dim", 8))
        hidden = int(self.params.get("hidden", 256))
        dropout = float(self.params.get("dropout", 0.15))
        out = 1 if self.task == "regression" else self.n_classes
        width = len(self.numeric_) + len(self.missing_cols_) + dim * len(self.categorical_)

        class Net(nn.Module):  # type: ignore[misc,name-defined]
            def __init__(self, cards: np.ndarray, layers: int) -> None:
                super().__init__()
                self.emb = nn.ModuleList([nn.Embedding(int(c), dim) for c in cards])
                blocks: list[Any] = []
                size = max(1, width)
                for _ in range(layers):
                    blocks += [nn.Linear(size, hidden), nn.SiLU(), nn.Dropout(dropout)]
                    size = hidden
                self.body = nn.Sequential(*blocks)
                self.head = nn.Linear(size, out)

            def forward(self, numbers: Any, index: Any) -> Any:
                parts = [numbers] + [e(index[:, i]) for i, e in enumerate(self.emb)]
                x = torch.cat(parts, dim=1)
                if x.shape[1] == 0:
                    x = torch.zeros((x.shape[0], 1))
                return self.head(self.body(x))

        return Net(self.cardinality_, int(self.params.get("layers", 3)))

    def _train(
        self,
        torch: Any,
        net: Any,
        X: Matrix,
        y: np.ndarray,
        X_val: Matrix | None,
        y_val: np.ndarray | None,
        deadline: float | None,
        sample_weight: np.ndarray | None,
    ) -> None:
        def tensors(M: Matrix, target: np.ndarray) -> tuple[Any, Any, Any]:
            numbers, index = self._prepare(M)
            if self.task == "regression":
                t = torch.tensor((target - self.y_mean_) / self.y_scale_, dtype=torch.float32)
            else:
                t = torch.tensor(target, dtype=torch.int64)
            return torch.tensor(numbers, dtype=torch.float32), torch.tensor(index), t

        train = tensors(X, y)
        val = tensors(X_val, y_val) if X_val is not None and y_val is not None else None
        w = torch.ones(len(y)) if sample_weight is None else torch.tensor(sample_weight)
        w = w.to(torch.float32)
        lr = float(self.params.get("lr", 3e-3))
        opt = torch.optim.AdamW(
            net.parameters(), lr=lr, weight_decay=float(self.params.get("weight_decay", 1e-4))
        )

        def loss_of(out: Any, target: Any) -> Any:
            if self.task == "regression":
                return (out.squeeze(1) - target) ** 2
            return torch.nn.functional.cross_entropy(out, target, reduction="none")

        generator = torch.Generator().manual_seed(self.seed)
        best, best_state, stale = math.inf, None, 0
        self.epochs_ = 0
        max_epochs = int(self.params.get("epochs", _MAX_EPOCHS))
        for epoch in range(max_epochs):
            # cosine decay over the epoch budget, as the tuned defaults do
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / max_epochs))
            net.train()
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(y), _BATCH):
                rows = order[start : start + _BATCH]
                opt.zero_grad()
                out = net(train[0][rows], train[1][rows])
                batch_w = w[rows]
                loss = (loss_of(out, train[2][rows]) * batch_w).sum() / batch_w.sum()
                loss.backward()
                opt.step()
            self.epochs_ = epoch + 1
            if val is not None:
                net.eval()
                with torch.no_grad():
                    current = float(loss_of(net(val[0], val[1]), val[2]).mean())
                if current < best - 1e-5:
                    best, stale = current, 0
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
                if stale >= _PATIENCE:
                    break
            if self.time_left(deadline) <= 0:
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    # -- prediction, in NumPy ----------------------------------------------------------------
    def predict(self, X: Matrix) -> np.ndarray:
        numbers, index = self._prepare(X)
        a = self.arrays_
        parts = [numbers] + [a[f"emb.{i}.weight"][index[:, i]] for i in range(index.shape[1])]
        h = np.hstack(parts) if parts else np.zeros((len(numbers), 0))
        if h.shape[1] == 0:
            h = np.zeros((len(numbers), 1))
        layer = 0
        while f"body.{3 * layer}.weight" in a:
            h = _silu(h @ a[f"body.{3 * layer}.weight"].T + a[f"body.{3 * layer}.bias"])
            layer += 1
        out = h @ a["head.weight"].T + a["head.bias"]
        if self.task == "regression":
            values: np.ndarray = out[:, 0] * self.y_scale_ + self.y_mean_
            return values
        proba: np.ndarray = softmax(out, axis=1)
        return proba

    def fitted_params(self) -> dict[str, Any]:
        return {**self.params, "epochs": self.epochs_}

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            **{f"w/{k}": v for k, v in self.arrays_.items()},
            "median": self.median_,
            "scale": self.scale_,
            "missing_cols": self.missing_cols_,
            "cardinality": self.cardinality_,
        }
        np.savez(directory / "mlp.npz", **arrays)
        meta = {
            "params": self.params,
            "numeric": self.numeric_,
            "categorical": self.categorical_,
            "epochs": self.epochs_,
            "y_mean": getattr(self, "y_mean_", 0.0),
            "y_scale": getattr(self, "y_scale_", 1.0),
        }
        (directory / "params.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        meta = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, meta["params"])
        with np.load(directory / "mlp.npz", allow_pickle=False) as data:
            learner.arrays_ = {k[2:]: data[k] for k in data.files if k.startswith("w/")}
            learner.median_ = data["median"]
            learner.scale_ = data["scale"]
            learner.missing_cols_ = data["missing_cols"]
            learner.cardinality_ = data["cardinality"]
        learner.numeric_ = list(meta["numeric"])
        learner.categorical_ = list(meta["categorical"])
        learner.epochs_ = int(meta["epochs"])
        learner.y_mean_ = float(meta["y_mean"])
        learner.y_scale_ = float(meta["y_scale"])
        return learner
