"""Streamed batch scoring: many chunks, every format, rejects with their row numbers, SQL, and
no partial output after a failure."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Generator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mlwright import Model
from mlwright.cli import main
from mlwright.data.sources import DataStream
from mlwright.deploy import open_sink, score_file, score_stream
from mlwright.errors import ConfigError, DataError, SourceError
from mlwright.settings import DataSettings

from .conftest import BAD_ROWS

SMALL = DataSettings(chunk_size=100)
PG_URL = os.environ.get(
    "MLWRIGHT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"customerID": str})
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"row": int})


def _expected(model: Model, rows: pd.DataFrame) -> pd.DataFrame:
    """What scoring the whole frame at once gives."""
    return model.score(rows).frame


def _check_scored(scored: pd.DataFrame, model: Model, rows: pd.DataFrame) -> None:
    expected = _expected(model, rows)
    good = [i for i in range(len(rows)) if i not in BAD_ROWS]
    assert list(scored.columns) == ["row", "customerID", "prediction", "proba_No", "proba_Yes"]
    assert scored["row"].tolist() == good
    assert scored["customerID"].astype(str).tolist() == rows["customerID"].iloc[good].tolist()
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    assert scored["proba_Yes"].to_numpy() == pytest.approx(expected["proba_Yes"].to_numpy())


def _no_partials(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "jsonl"])
def test_csv_in_many_chunks_matches_scoring_at_once(
    model: Model, rows: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    src = tmp_path / "new.csv"
    rows.to_csv(src, index=False)
    out = tmp_path / f"scored.{fmt}"
    summary = score_file(model, src, out, settings=SMALL, progress=False)
    assert summary.chunks == 20 and summary.rows == 2000
    assert (summary.scored, summary.rejected) == (1995, 5)
    _check_scored(_read(out), model, rows)
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv")
    assert summary.rejects_file == str(tmp_path / "scored.rejects.csv")
    assert rejects["_row"].tolist() == BAD_ROWS
    assert all("tenure" in r and "twelve" in r for r in rejects["_reason"])
    assert rejects["customerID"].tolist() == rows["customerID"].iloc[BAD_ROWS].tolist()
    _no_partials(tmp_path)


def test_paths_given_as_text(model: Model, rows: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "new.parquet"
    rows.to_parquet(src, index=False)
    out, rejects = tmp_path / "scored.parquet", tmp_path / "bad.csv"
    summary = score_file(model, str(src), str(out), rejects=str(rejects), settings=SMALL)
    assert (summary.scored, summary.rejected) == (1995, 5)
    _check_scored(pd.read_parquet(out), model, rows)
    assert pd.read_csv(rejects)["_row"].tolist() == BAD_ROWS
    _no_partials(tmp_path)


def test_parquet_in_csv_out_with_total_known(
    model: Model, rows: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "new.parquet"
    rows.to_parquet(src, row_group_size=300)  # batches end at row groups: uneven chunks
    out = tmp_path / "out" / "scored.csv"
    rejects = tmp_path / "bad.parquet"
    summary = score_file(model, src, out, rejects=rejects, settings=SMALL, progress=False)
    assert summary.rows == 2000 and summary.chunks >= 20
    _check_scored(_read(out), model, rows)
    assert pd.read_parquet(rejects)["_row"].tolist() == BAD_ROWS


def test_csv_to_a_stream_and_warnings_once(model: Model, rows: pd.DataFrame, tmp_path: Path):
    src = tmp_path / "new.csv"
    rows.assign(extra="x").to_csv(src, index=False)
    buffer = io.StringIO()
    summary = score_file(model, src, buffer, rejects=tmp_path / "r.csv", settings=SMALL)
    _check_scored(pd.read_csv(io.StringIO(buffer.getvalue())), model, rows)
    assert summary.output == "stdout"
    ignored = [w for w in summary.warnings if "not seen in training" in w]
    assert len(ignored) == 1 and "20 chunks" in ignored[0]


def test_no_rejects_file_when_every_row_scores(
    model: Model, rows: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "good.csv"
    rows.drop(index=BAD_ROWS).to_csv(src, index=False)
    summary = score_file(model, src, tmp_path / "s.csv", settings=SMALL, progress=False)
    assert summary.rejected == 0 and summary.rejects_file is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "s.csv"]


def test_every_row_rejected_still_writes_the_columns(
    model: Model, rows: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "bad.csv"
    rows.head(250).assign(tenure="twelve").to_csv(src, index=False)
    out = tmp_path / "s.parquet"
    summary = score_file(model, src, out, settings=SMALL, progress=False)
    assert (summary.scored, summary.rejected) == (0, 250)
    assert list(pd.read_parquet(out).columns)[:3] == ["row", "customerID", "prediction"]


def test_a_failure_midway_leaves_the_old_output_and_no_partial_file(
    model: Model, rows: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "broken.csv"
    text = rows.to_csv(index=False).splitlines()
    text[1500] += ",one,field,too,many"
    src.write_text("\n".join(text) + "\n")
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"yesterday's complete output")
    with pytest.raises(SourceError, match="expected the same number of fields"):
        score_file(model, src, out, settings=SMALL, progress=False)
    assert out.read_bytes() == b"yesterday's complete output"
    assert not (tmp_path / "scored.rejects.csv").exists()  # rows 4 and 399 were seen
    _no_partials(tmp_path)


def test_ctrl_c_commits_nothing(model: Model, rows: pd.DataFrame, tmp_path: Path) -> None:
    def chunks() -> Generator[pd.DataFrame, None, None]:
        for start in range(0, 1000, 100):
            if start == 500:
                raise KeyboardInterrupt
            yield rows.iloc[start : start + 100].reset_index(drop=True)

    out, bad = tmp_path / "scored.csv", tmp_path / "bad.csv"
    with (
        pytest.raises(KeyboardInterrupt),
        DataStream("rows", chunks()) as stream,
        open_sink(out) as sink,
        open_sink(bad) as rejects,
    ):
        score_stream(model, stream, sink, rejects, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_no_rows_and_unknown_output_format(model: Model, tmp_path: Path) -> None:
    header_only = tmp_path / "empty.csv"
    header_only.write_text("customerID,tenure\n")
    with pytest.raises(DataError, match="no data rows"):
        score_file(model, header_only, tmp_path / "s.csv", progress=False)
    with pytest.raises(ConfigError, match=r"\.csv, \.tsv, \.parquet or \.jsonl"):
        score_file(model, header_only, tmp_path / "s.xlsx", progress=False)
    _no_partials(tmp_path)


def test_progress_bar_on_stderr(model: Model, rows: pd.DataFrame, tmp_path: Path, capsys):
    src = tmp_path / "new.parquet"
    rows.to_parquet(src)
    score_file(model, src, tmp_path / "s.csv", settings=SMALL, progress=True)
    err = capsys.readouterr().err
    assert "scoring new.parquet" in err and "2,000/2,000 rows" in err and "rows/s" in err


# --- SQL -----------------------------------------------------------------------------------------


def _postgres() -> sa.Engine:
    engine = sa.create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL is down at {PG_URL}: {str(exc.orig).splitlines()[0]}")
    return engine


def test_query_on_postgresql_streams_through_a_server_side_cursor(
    model: Model, rows: pd.DataFrame, tmp_path: Path
) -> None:
    engine = _postgres()
    table = f"mlw_batch_{os.getpid()}"
    rows.assign(n=range(len(rows))).to_sql(table, engine, index=False, if_exists="replace")
    try:
        out = tmp_path / "scored.parquet"
        summary = score_file(
            model,
            PG_URL,
            out,
            query=f"select * from {table} order by n",
            settings=SMALL,
            progress=False,
        )
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop table if exists {table}")
        engine.dispose()
    assert summary.chunks == 20
    _check_scored(_read(out), model, rows)
    assert pd.read_csv(tmp_path / "scored.rejects.csv")["_row"].tolist() == BAD_ROWS


def test_query_on_sqlite_by_cli_with_json_summary(
    model_dir: Path, rows: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "rows.sqlite"
    with sqlite3.connect(db) as conn:
        rows.to_sql("customers", conn, index=False)
    out = tmp_path / "scored.jsonl"
    args = ["predict", str(model_dir), f"sqlite:///{db}", "-q", "select * from customers"]
    try:
        main([*args, "-o", str(out), "--chunk-size", "250", "--json"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["chunks"] == 8 and doc["scored"] == 1995 and doc["rejected"] == 5
    assert doc["rows_per_second"] > 0
    assert _read(out)["row"].tolist() == [i for i in range(2000) if i not in BAD_ROWS]


def test_predict_a_registry_reference(
    model_dir: Path, rows: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    from mlwright.registry import open_registry

    registry = tmp_path / "registry"
    reg = open_registry(registry)
    try:
        version = reg.register(model_dir, "churn")
        reg.promote("churn", version.version, "production", reason="the deploy tests")
    finally:
        reg.close()
    src, out = tmp_path / "new.csv", tmp_path / "scored.csv"
    rows.head(300).to_csv(src, index=False)
    args = ["predict", "churn@production", str(src), "--registry", str(registry), "-o", str(out)]
    try:
        main([*args, "--json"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["scored"] == 299
    assert len(_read(out)) == 299


def _registry_with_churn(model_dir: Path, folder: Path) -> Path:
    from mlwright.registry import open_registry

    reg = open_registry(folder)
    try:
        reg.register(model_dir, "churn", alias="production")
    finally:
        reg.close()
    return folder


def _logged(registry: Path):  # type: ignore[no-untyped-def]
    from mlwright.registry import open_registry

    reg = open_registry(registry)
    try:
        return reg.operations.read("churn")
    finally:
        reg.close()


def _predict(args: list[str], capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_batch_predict_logs_every_row_with_request_ids_to_join_labels(
    model_dir: Path, rows: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    registry = _registry_with_churn(model_dir, tmp_path / "registry")
    src, out = tmp_path / "new.parquet", tmp_path / "scored.parquet"
    rows.to_parquet(src, index=False)
    args = ["predict", "churn@production", str(src), "--registry", str(registry), "-o", str(out)]
    code, stdout, err = _predict([*args, "--chunk-size", "300", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)["prediction_log"]
    run = summary["run_id"]
    assert (summary["rows"], summary["written"], summary["dropped"]) == (2000, 2000, 0)
    assert summary["version"] == 1 and summary["request_ids"] == f"batch-{run}-<row>"

    scored = _read(out)
    assert list(scored.columns[:2]) == ["row", "request_id"]
    assert scored["request_id"].tolist() == [f"batch-{run}-{r}" for r in scored["row"]]
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv")
    assert rejects["request_id"].tolist() == [f"batch-{run}-{r}" for r in BAD_ROWS]

    window = _logged(registry)
    logged = window.rows.set_index("request_id")
    assert len(logged) == 2000 and set(logged["source"]) == {"batch"}
    assert set(logged["version"]) == {1}
    by_id = scored.set_index("request_id")
    some = by_id.index[[0, 777, -1]]
    assert logged.loc[some, "prediction"].tolist() == by_id.loc[some, "prediction"].tolist()
    for rid in some:
        assert logged.loc[rid, "probabilities"] == pytest.approx(
            [by_id.loc[rid, "proba_No"], by_id.loc[rid, "proba_Yes"]]
        )
    bad = logged.loc[f"batch-{run}-{BAD_ROWS[1]}"]
    assert "twelve" in bad["rejected"] and pd.isna(bad["prediction"])
    inputs = window.inputs.set_index(window.rows["request_id"])
    assert inputs.loc[f"batch-{run}-1234", "tenure"] == "twelve"  # as read
    assert inputs.loc[f"batch-{run}-5", "customerID"] == rows["customerID"].iloc[5]

    # the request_id column is what labels are joined by
    from mlwright.registry import open_registry

    reg = open_registry(registry)
    try:
        joined = reg.operations.add_labels("churn", by_id.index[:50], ["No"] * 50)
    finally:
        reg.close()
    assert joined.matched == 50


def test_batch_predict_no_log_and_folders(
    model_dir: Path, rows: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    registry = _registry_with_churn(model_dir, tmp_path / "registry")
    src, out = tmp_path / "new.csv", tmp_path / "scored.csv"
    rows.head(50).to_csv(src, index=False)
    base = ["predict", "churn@production", str(src), "--registry", str(registry), "-o", str(out)]
    code, _, err = _predict([*base, "--no-log"], capsys)
    assert code == 0, err
    assert "request_id" not in _read(out).columns and len(_logged(registry)) == 0
    # a folder logs only when told the registered name
    folder = ["predict", str(model_dir), str(src), "--registry", str(registry), "-o", str(out)]
    code, _, err = _predict(folder, capsys)
    assert code == 0 and "request_id" not in _read(out).columns
    code, _, err = _predict([*folder, "--log"], capsys)
    assert code == 1 and "--log-as NAME" in err
    code, _, err = _predict([*folder, "--log-as", "churn"], capsys)
    assert code == 0, err
    assert "logged 50 rows for 'churn' as batch run" in err
    logged = _logged(registry).rows
    assert len(logged) == 50 and logged["version"].isna().all()
    written = _read(out)["request_id"].tolist()  # row 4 is set aside: in the log, not the output
    assert len(written) == 49 and set(written) < set(logged["request_id"])
