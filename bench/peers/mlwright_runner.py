"""mlwright's runner for bench/automl.py; runs under the project's own .venv (see _common.py)."""

from __future__ import annotations

from _common import Stopwatch, load_meta, parse_args, write

import mlwright


def main() -> None:
    args = parse_args()
    meta = load_meta(args.data)
    settings = mlwright.Settings(progress=False)
    with Stopwatch() as fit:
        model = mlwright.train(
            args.data / "train.csv.gz",
            target=meta["target"],
            time_limit=args.budget,
            seed=args.seed,
            settings=settings,
        )
    test = mlwright.read_data(args.data / "test.csv.gz").drop(columns=[meta["target"]])
    with Stopwatch() as predict:
        pred = model.predict(test) if meta["task"] == "regression" else model.predict_proba(test)
    write(args.out, pred, fit.seconds, predict.seconds, best=model.leaderboard.best().name)


if __name__ == "__main__":
    main()
