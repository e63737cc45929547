"""AutoGluon's runner for bench/automl.py; runs under bench/.venvs/autogluon (see _common.py).

After fit the best model and its ancestors are persisted in memory (``predictor.persist()``,
AutoGluon's advice for inference), so predict time is not spent loading models from disk: the
state mlwright's model is in when it predicts.
"""

from __future__ import annotations

from typing import Any

from _common import Stopwatch, load, load_meta, parse_args, write
from autogluon.tabular import TabularPredictor

METRICS = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}


def main() -> None:
    args = parse_args()
    meta = load_meta(args.data)
    x, y, test = load(args.data, meta)
    predictor = TabularPredictor(
        label=meta["target"],
        problem_type=meta["task"],
        eval_metric=METRICS[meta["metric"]],
        path=str(args.out / "ag"),
        verbosity=1,
    )
    # AutoGluon has no global seed; seed 0 is its default, other seeds go to the bagged models.
    seeded: dict[str, Any] = (
        {"ag_args_ensemble": {"model_random_seed": args.seed}} if args.seed else {}
    )
    with Stopwatch() as fit:
        predictor.fit(
            x.assign(**{meta["target"]: y}), time_limit=args.budget, presets=args.preset, **seeded
        )
    persisted = predictor.persist()
    with Stopwatch() as predict:
        if meta["task"] == "regression":
            pred = predictor.predict(test)
        else:
            pred = predictor.predict_proba(test)
    write(
        args.out,
        pred,
        fit.seconds,
        predict.seconds,
        best=predictor.model_best,
        models=len(predictor.model_names()),
        persisted=len(persisted),
    )


if __name__ == "__main__":
    main()
