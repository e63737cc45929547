"""FLAML's runner for bench/automl.py; runs under bench/.venvs/flaml (see _common.py)."""

from __future__ import annotations

import pandas as pd
from _common import Stopwatch, load, load_meta, parse_args, write
from flaml import AutoML

METRICS = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"}


def main() -> None:
    args = parse_args()
    meta = load_meta(args.data)
    x, y, test = load(args.data, meta)
    regression = meta["task"] == "regression"
    automl = AutoML()
    with Stopwatch() as fit:
        automl.fit(
            x,
            y,
            task="regression" if regression else "classification",
            metric=METRICS[meta["metric"]],
            time_budget=args.budget,
            seed=args.seed,
            n_jobs=2,
            verbose=0,
        )
    with Stopwatch() as predict:
        if regression:
            pred = pd.Series(automl.predict(test))
        else:
            pred = pd.DataFrame(automl.predict_proba(test), columns=automl.classes_)
    write(args.out, pred, fit.seconds, predict.seconds, best=automl.best_estimator)


if __name__ == "__main__":
    main()
