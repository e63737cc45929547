"""mlwright's runner for bench/automl.py; runs under the project's own .venv (see _common.py)."""

from __future__ import annotations

from _common import Stopwatch, load_meta, parse_args, write

import mlwright


def main() -> None:
    args = parse_args()
    meta = load_meta(args.data)
    settings = mlwright.Settings(progress=False)
    with Stopwatch() as fit:
        # compacting (timing each option, refitting members) gets the last 15% of the budget
        model = mlwright.train(
            args.data / "train.csv.gz",
            target=meta["target"],
            time_limit=args.budget * (0.85 if args.compact else 1.0),
            seed=args.seed,
            settings=settings,
        )
        if args.compact:
            model = model.compact(mlwright.read_data(args.data / "train.csv.gz"))
    test = mlwright.read_data(args.data / "test.csv.gz").drop(columns=[meta["target"]])
    with Stopwatch() as predict:
        pred = model.predict(test) if meta["task"] == "regression" else model.predict_proba(test)
    # each member with the number of models it runs per row (1: refitted on all rows)
    members = {c.name: len(getattr(c, "folds", [])) or 1 for c, _ in model.predictor_.members}
    write(
        args.out,
        pred,
        fit.seconds,
        predict.seconds,
        best=model.leaderboard.best().name,
        members=members,
    )


if __name__ == "__main__":
    main()
