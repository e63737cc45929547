"""Every bad input named by the foundation issue gets a clear error (or is handled and reported),
through the same front door a user runs: ``mlwright.train`` / the CLI."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.cli import main
from mlwright.errors import ConfigError, DataError, MlwrightWarning, SourceError

FAST = mlwright.Settings.model_validate(
    {"training": {"time_limit": 20, "max_trials": 2, "folds": 3}, "progress": False}
)


def _frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "c": rng.choice(["red", "green", "blue"], n),
            "y": np.where(x + rng.normal(0, 0.5, n) > 0, "yes", "no"),
        }
    )


def _train(data: object, target: str = "y") -> mlwright.Model:
    return mlwright.train(data, target=target, settings=FAST)  # type: ignore[arg-type]


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    f = tmp_path / "empty.csv"
    f.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        _train(f)
    code, _, err = _cli(["train", str(f), "--target", "y"], capsys)
    assert code == 1 and "error:" in err and "empty" in err and "Traceback" not in err


def test_header_only(tmp_path: Path):
    f = tmp_path / "h.csv"
    f.write_text("x,c,y\n")
    with pytest.raises(DataError, match="no (data )?rows"):
        _train(f)


def test_target_missing_lists_columns(tmp_path: Path):
    with pytest.raises(DataError, match=r"churned.*\['x', 'c', 'y'\]"):
        _train(_frame(), target="churned")


@pytest.mark.parametrize("value", ["same", None])
def test_target_constant_or_all_missing(value: str | None):
    df = _frame()
    df["y"] = value
    with pytest.raises(DataError, match="target"):
        _train(df)


def test_one_row():
    with pytest.raises(DataError, match="row"):
        _train(_frame().head(1))


def test_duplicate_column_names(tmp_path: Path):
    f = tmp_path / "d.csv"
    f.write_text("x,x,y\n1,2,a\n3,4,b\n")
    with pytest.raises(DataError, match="duplicate"):
        _train(f)


def test_file_is_not_what_its_extension_says(tmp_path: Path):
    f = tmp_path / "data.parquet"
    _frame().to_csv(f, index=False)
    with pytest.raises(SourceError, match="parquet"):
        _train(f)


def test_non_utf8_text_is_decoded_and_reported(tmp_path: Path):
    df = _frame()
    df["c"] = np.where(df["c"] == "red", "crème brûlée", "façade")
    f = tmp_path / "latin1.csv"
    f.write_bytes(df.to_csv(index=False).encode("latin-1"))
    with pytest.warns(MlwrightWarning, match="(?i)encoding|latin|1252"):
        model = _train(f)
    assert model.task_ == "binary"
    with pytest.warns(MlwrightWarning):
        assert set(mlwright.read_data(f)["c"]) == {"crème brûlée", "façade"}


def test_binary_garbage_named_csv(tmp_path: Path):
    f = tmp_path / "x.csv"
    f.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(SourceError):
        _train(f)


def test_all_missing_column_dropped_with_reason():
    df = _frame()
    df["empty"] = None
    model = _train(df)
    dropped = {c.name: c.reason for c in model.schema.dropped}
    assert "empty" in dropped and "missing" in str(dropped["empty"])


def test_infinities_set_aside_with_reason():
    df = _frame()
    df.loc[[3, 7], "x"] = np.inf
    model = _train(df)
    assert model.info_["rows_rejected"] == 2
    assert model.training_rejects_["_reason"].str.contains("x").all()
    scored = model.score(df)
    assert len(scored.rejects) == 2 and len(scored.frame) == len(df) - 2


def test_hundred_thousand_distinct_categories():
    n = 100_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "code": [f"k{i}" for i in rng.permutation(n)],
            "x": rng.normal(size=n),
        }
    )
    df["y"] = (df["x"] > 0).astype(int)
    model = _train(df)
    assert model.schema["code"].role.value in ("identifier", "categorical")
    assert model.predict(df.head(5)).notna().all()


def test_dates_in_mixed_formats():
    df = _frame(200)
    base = pd.Timestamp("2021-03-01") + pd.to_timedelta(np.arange(200), "D")
    fmts = ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y"]
    df["when"] = [d.strftime(fmts[i % 3]) for i, d in enumerate(base)]
    model = _train(df)
    assert model.schema["when"].role.value == "datetime"
    assert model.info_["rows_rejected"] == 0


def test_unsupported_sql_dialect(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(ConfigError, match="postgresql"):
        _train("oracle://scott:tiger@db/orcl")
    code, _, err = _cli(["train", "mssql://u@h/db", "--query", "select 1", "--target", "y"], capsys)
    assert code == 1 and "tiger" not in err


def test_sql_query_that_fails_or_writes(tmp_path: Path):
    db = tmp_path / "d.sqlite"
    _frame().to_sql("t", sqlite3.connect(db), index=False)
    url = f"sqlite:///{db}"
    with pytest.raises(SourceError):
        mlwright.train(url, target="y", query="select * from no_such_table", settings=FAST)
    with pytest.raises(SourceError, match="(?i)read-only|write"):
        mlwright.train(url, target="y", query="delete from t returning *", settings=FAST)
    assert sqlite3.connect(db).execute("select count(*) from t").fetchone()[0] == 120


def test_compressed_and_sql_sources_train(tmp_path: Path):
    f = tmp_path / "d.csv.gz"
    with gzip.open(f, "wt") as fh:
        _frame().to_csv(fh, index=False)
    assert _train(f).task_ == "binary"
