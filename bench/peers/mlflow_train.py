"""The MLflow side of bench/serve.py: train "the same task" and save it as an MLflow model.

Runs under bench/.venvs/mlflow. What a data scientist would write for MLflow by hand: a
scikit-learn pipeline (numbers coerced and mean-imputed, strings one-hot encoded, columns with
a distinct value per row dropped as identifiers) ending in LightGBM with its defaults, saved
with ``mlflow.sklearn.save_model`` (cloudpickle) and a signature inferred from the training
frame, so ``mlflow models serve -m <out> --env-manager local`` serves it offline (no tracking
server).

Usage:
    bench/.venvs/mlflow/bin/python bench/peers/mlflow_train.py --train train.csv \
        --target Churn --task binary --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mlflow.sklearn
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder


def to_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that hold numbers (telco's TotalCharges, blanks and all) become floats."""
    return frame.apply(pd.to_numeric, errors="coerce")


def to_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), "missing").astype(str)


def column_kinds(x: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns; identifiers (one value per row) are in neither."""
    numeric, categorical = [], []
    for name in x.columns:
        col = x[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            numeric.append(name)
        elif pd.to_numeric(col, errors="coerce").notna().mean() >= 0.95:
            numeric.append(name)
        elif col.nunique() < 0.5 * len(col):
            categorical.append(name)
    return numeric, categorical


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, required=True, help="CSV (or .csv.gz) to fit on")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", choices=["binary", "multiclass", "regression"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="MLflow model folder to write")
    args = parser.parse_args()

    x = pd.read_csv(args.train)
    y = x.pop(args.target)
    numeric, categorical = column_kinds(x)
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(FunctionTransformer(to_numbers), SimpleImputer()), numeric),
            (
                "cat",
                make_pipeline(FunctionTransformer(to_text), OneHotEncoder(handle_unknown="ignore")),
                categorical,
            ),
        ]
    )
    regression = args.task == "regression"
    learner = LGBMRegressor(verbose=-1) if regression else LGBMClassifier(verbose=-1)
    pipeline = make_pipeline(encode, learner)
    start = time.perf_counter()
    pipeline.fit(x, y.astype(float) if regression else y.astype(str))
    fit_s = time.perf_counter() - start
    signature = infer_signature(x, pipeline.predict(x.head(100)))
    # cloudpickle (MLflow 2's default) carries the two helper functions above by value; skops,
    # 3.x's default, would refuse them as untrusted types.
    mlflow.sklearn.save_model(
        pipeline,
        str(args.out),
        signature=signature,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )
    info = {"fit_s": fit_s, "numeric": numeric, "categorical": categorical}
    (args.out / "bench.json").write_text(json.dumps(info))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
