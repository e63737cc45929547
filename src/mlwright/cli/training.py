"""``mlwright train``, ``evaluate`` and ``compact`` (``predict`` is in ``cli.deploy``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from mlwright.api import load, read_data, resolve_settings, train
from mlwright.api import register as register_model
from mlwright.cli.output import emit

__all__ = ["register"]

DATA_HELP = "A file (CSV/TSV/Parquet/JSON Lines/Excel) or a database URL used with --query."
JSON_HELP = "Print one JSON document on stdout instead of tables."
PROJECT_HELP = "Project file to read (default: ./mlwright.toml when present)."


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("compact")(compact_cmd)


def train_cmd(
    data: str = typer.Argument(None, help=DATA_HELP, show_default=False),
    target: str = typer.Option(None, "--target", "-t", help="The column to predict."),
    time_limit: float = typer.Option(None, "--time-limit", help="Seconds for the whole run [60]."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder to save the model in."),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    task: str = typer.Option(None, help="binary, multiclass or regression (default: detected)."),
    metric: str = typer.Option(None, help="Metric to optimise (default: by task)."),
    seed: int = typer.Option(None, help="Random seed [0]."),
    max_trials: int = typer.Option(None, "--max-trials", help="Stop after this many candidates."),
    preset: str = typer.Option(
        None, help="fast (a good model soon), balanced [default] or best (most accurate)."
    ),
    deterministic: bool = typer.Option(
        None,
        "--deterministic/--no-deterministic",
        help="Plan the search in work units, not seconds: same data and seed, same model.",
    ),
    fp_cost: float = typer.Option(
        None, "--fp-cost", help="Cost of a false positive (binary); sets the threshold by cost."
    ),
    fn_cost: float = typer.Option(None, "--fn-cost", help="Cost of a missed positive (binary)."),
    max_latency_ms: float = typer.Option(
        None, "--max-latency-ms", help="Milliseconds to score one row; compacts the model to fit."
    ),
    weight: str = typer.Option(None, "--weight", help="Column holding each row's weight."),
    class_weight: str = typer.Option(
        None, "--class-weight", help="'balanced': a rare class counts as much as a common one."
    ),
    register_as: str = typer.Option(
        None, "--register", help="Also register the saved model under this name."
    ),
    registry: str = typer.Option(
        None,
        "--registry",
        help="Registry folder or URL for --register (default: ./mlwright-registry).",
    ),
    project: Path = typer.Option(None, "--project", help=PROJECT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Train a model on DATA to predict --target, and save it.

    Example:
        mlwright train examples/telco_churn/train.csv --target Churn --out models/churn
        mlwright train data.csv -t churned --fp-cost 10 --fn-cost 200 --max-latency-ms 5
    """
    costs = None
    if fp_cost is not None or fn_cost is not None:
        costs = {
            "fp": 1.0 if fp_cost is None else fp_cost,
            "fn": 1.0 if fn_cost is None else fn_cost,
        }
    settings = resolve_settings(
        project_file=project,
        data={"source": data, "query": query, "target": target, "weight": weight},
        training={
            "class_weight": class_weight,
            "time_limit": time_limit,
            "task": task,
            "metric": metric,
            "seed": seed,
            "max_trials": max_trials,
            "preset": preset,
            "deterministic": deterministic,
        },
        costs=costs,
        constraints={"max_latency_ms": max_latency_ms},
    )
    model = train(settings=settings)
    source = settings.data.source or "model"
    out = out or Path("models") / (
        Path(source).name.split(".")[0]
        if "://" not in source
        else (settings.data.target or "model")
    )
    saved = model.save(out)
    info = model.info_
    document = {
        "model_dir": str(saved),
        "task": model.task_,
        "metric": model.metric_,
        "classes": model.classes_,
        "threshold": model.threshold_,
        "rows": info["rows"],
        "rows_rejected": info["rows_rejected"],
        "fit_seconds": info["fit_seconds"],
        "leaderboard": model.leaderboard.to_dict(),
        "cv_evaluation": model.cv_evaluation_.to_dict(),
        "dropped_columns": {c.name: c.reason for c in model.schema_.dropped},
        "suspects": info["suspects"],
        "warnings": info["warnings"],
        "compaction": info.get("compaction"),
        "registered": None,
    }
    registered = None
    if register_as is not None:
        registered = register_model(saved, register_as, registry=registry, reason="trained")
        document["registered"] = registered.to_dict()
    notes = []
    for col in model.schema_.dropped:
        notes.append(f"dropped '{col.name}' ({col.role.value}): {col.reason}")
    dropped = {c.name for c in model.schema_.dropped}
    suspects: list[dict[str, str]] = info["suspects"]
    for suspect in suspects:
        if suspect["column"] in dropped:
            continue
        notes.append(f"suspect '{suspect['column']}' ({suspect['kind']}): {suspect['detail']}")
    if info["rows_rejected"]:
        notes.append(
            f"{info['rows_rejected']} row(s) set aside with reasons: {saved}/training_rejects.csv"
        )
    summary = Text.assemble(
        ("Model saved to ", "bold"),
        (str(saved), "bold green"),
        f"\n{model.task_} · {info['rows_used']} rows · {model.metric_} · "
        f"{info['fit_seconds']:.1f}s of {info['time_limit']:g}s",
    )
    if registered is not None:
        summary.append(f"\nRegistered as {registered.ref}", style="bold green")
    emit(
        as_json,
        document,
        model.leaderboard.to_rich(),
        *([model.compaction_.to_rich()] if model.compaction_ is not None else []),
        Text("Cross-validated estimate of the final model (out-of-fold rows):", style="bold"),
        model.cv_evaluation_.to_rich(),
        *[Text(n, style="yellow") for n in notes],
        summary,
    )


def evaluate_cmd(
    model_dir: Path = typer.Argument(..., help="Folder of a saved model."),
    data: str = typer.Argument(..., help=DATA_HELP),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the intervals."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score a saved model on labelled DATA, with 95% bootstrap confidence intervals.

    Example:
        mlwright evaluate models/churn examples/telco_churn/test.csv
    """
    model = load(model_dir)
    settings = resolve_settings(model.settings, data={"query": query})
    df = read_data(data, settings=settings)
    evaluation = model.evaluate(df, n_boot=n_boot)
    emit(as_json, evaluation.to_dict(), evaluation.to_rich())


def compact_cmd(
    model_dir: Path = typer.Argument(..., help="Folder of a saved model."),
    data: str = typer.Argument(..., help="Its training data (" + DATA_HELP + ")"),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to save the compact model in."),
    max_latency_ms: float = typer.Option(
        None, "--max-latency-ms", help="Milliseconds to score one row that the model must meet."
    ),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Make a saved model cheaper to serve: drop ensemble members or refit one on all rows.

    Prints every option's score and latency and saves the chosen one.

    Example:
        mlwright compact models/churn examples/telco_churn/train.csv -o models/churn-small
    """
    model = load(model_dir)
    settings = resolve_settings(model.settings, data={"query": query})
    small = model.compact(read_data(data, settings=settings), max_latency_ms=max_latency_ms)
    saved = small.save(out)
    assert small.compaction_ is not None
    document = {"model_dir": str(saved), **small.compaction_.to_dict()}
    emit(
        as_json,
        document,
        small.compaction_.to_rich(),
        Text.assemble(("Compact model saved to ", "bold"), (str(saved), "bold green")),
    )
