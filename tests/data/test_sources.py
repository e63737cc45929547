"""Reading files and DataFrames: formats, compression, delimiters, encodings and bad files."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlwright.data.sources import read_data
from mlwright.errors import ConfigError, DataError, MlwrightWarning, SourceError
from mlwright.settings import DataSettings

SMALL_CHUNKS = DataSettings(chunk_size=2)

# raw values that must reach schema inference exactly as written
MESSY = {
    "id": ["1", "2", "3", "4", "5"],
    "amount": ["1,234", "?", "NA", "$12.50", ""],
    "note": ["null", "N/A", "  spaced ", "crème brûlée", "-"],
}


def _messy_text(delimiter: str) -> str:
    buf = io.StringIO()
    pd.DataFrame(MESSY).to_csv(buf, index=False, sep=delimiter)
    return buf.getvalue()


def _read(path: Path, settings: DataSettings = SMALL_CHUNKS) -> pd.DataFrame:
    return read_data(path, settings=settings, progress=False)


def _as_lists(df: pd.DataFrame) -> dict[str, list[object]]:
    return {str(k): list(v) for k, v in df.to_dict("list").items()}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1, 2, 3, 4, 5],
            "x": [0.5, 1.5, None, 3.5, 4.5],
            "s": ["a", "é", "c", None, "e"],
            "b": [True, False, True, True, False],
        }
    )


# --- DataFrames ----------------------------------------------------------------------------------


def test_dataframe_is_copied_with_string_column_names() -> None:
    df = pd.DataFrame({0: [1, 2], "a": [3, 4]})
    out = read_data(df)
    assert list(out.columns) == ["0", "a"]
    out.loc[0, "a"] = 99
    assert df.loc[0, "a"] == 3 and list(df.columns) == [0, "a"]


def test_dataframe_duplicate_names_after_str_are_an_error() -> None:
    df = pd.DataFrame([[1, 2]], columns=pd.Index([1, "1"], dtype=object))
    with pytest.raises(DataError, match=r"duplicate column names: '1' \(2 times\).*Rename"):
        read_data(df)


def test_unknown_source_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected a file path"):
        read_data(42)  # type: ignore[arg-type]


# --- delimited text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("comma.csv", ","), ("semi.csv", ";"), ("tab.tsv", "\t"), ("tab.csv", "\t"), ("p.txt", "|")],
)
def test_delimiters_are_sniffed_and_raw_strings_kept(
    tmp_path: Path, name: str, delimiter: str
) -> None:
    f = tmp_path / name
    f.write_text(_messy_text(delimiter), encoding="utf-8")
    df = _read(f)
    assert _as_lists(df) == MESSY
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    f = tmp_path / "eu.csv"
    f.write_text("price;qty;city\n1,5;2;Köln\n2,25;3;Wien\n10,0;1;Graz\n", encoding="utf-8")
    df = _read(f)
    assert list(df.columns) == ["price", "qty", "city"]
    assert list(df["price"]) == ["1,5", "2,25", "10,0"]


def test_chunks_smaller_than_the_file_keep_every_row_in_order(tmp_path: Path) -> None:
    f = tmp_path / "many.csv"
    f.write_text("i,v\n" + "".join(f"{i},{i * 2}\n" for i in range(101)), encoding="utf-8")
    df = read_data(f, settings=DataSettings(chunk_size=7), progress=True)
    assert list(df["i"]) == [str(i) for i in range(101)]


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".zip"])
def test_compressed_csv(tmp_path: Path, suffix: str) -> None:
    raw = _messy_text(",").encode("utf-8")
    f = tmp_path / f"data{suffix}"
    if suffix.endswith(".gz"):
        f.write_bytes(gzip.compress(raw))
    elif suffix.endswith(".bz2"):
        f.write_bytes(bz2.compress(raw))
    elif suffix.endswith(".xz"):
        f.write_bytes(lzma.compress(raw))
    else:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data.csv", raw)
    assert _as_lists(_read(f)) == MESSY


def test_zip_with_several_files_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "two.zip"
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("a.csv", "x\n1\n")
        zf.writestr("b.csv", "x\n2\n")
    with pytest.raises(SourceError, match="holds 2 files.*expected exactly one"):
        _read(f)


def test_zstd_needs_its_package_or_reads(tmp_path: Path) -> None:
    f = tmp_path / "d.csv.zst"
    f.write_bytes(b"\x28\xb5\x2f\xfd" + b"not really zstd")
    with pytest.raises(SourceError, match=r"zstandard|d\.csv\.zst"):
        _read(f)


# --- encodings -----------------------------------------------------------------------------------


def _accented(encoding: str) -> bytes:
    text = "id,dish,price\n1,crème brûlée,3\n2,façade,4\n3,plain,5\n"
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_western_single_byte_files_decode_with_a_warning(tmp_path: Path, encoding: str) -> None:
    f = tmp_path / "w.csv"
    f.write_bytes(_accented(encoding) + "4,€ menu,6\n".encode("cp1252"))
    with pytest.warns(MlwrightWarning, match="cp1252"):
        df = _read(f)
    assert list(df["dish"]) == ["crème brûlée", "façade", "plain", "€ menu"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_files_decode_with_a_warning(tmp_path: Path, encoding: str) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes(_accented(encoding))
    with pytest.warns(MlwrightWarning, match="utf.16"):
        df = _read(f)
    assert list(df.columns) == ["id", "dish", "price"]
    assert list(df["dish"]) == ["crème brûlée", "façade", "plain"]


def test_utf8_with_bom_reads_clean_names_without_warning(tmp_path: Path) -> None:
    f = tmp_path / "bom.csv"
    f.write_bytes(_accented("utf-8-sig"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = _read(f)
    assert list(df.columns) == ["id", "dish", "price"]


def test_non_utf8_after_a_long_utf8_start_is_detected(tmp_path: Path) -> None:
    f = tmp_path / "late.csv"
    head = "id,name\n" + "".join(f"{i},plain name {i}\n" for i in range(80_000))
    f.write_bytes(head.encode("ascii") + "80000,Zoë Müller\n".encode("latin-1"))
    with pytest.warns(MlwrightWarning, match="cp1252"):
        df = read_data(f, settings=DataSettings(chunk_size=20_000), progress=False)
    assert df["name"].iloc[-1] == "Zoë Müller" and len(df) == 80_001


def test_binary_garbage_named_csv_is_a_source_error(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(SourceError, match="does not decode as text"):
        _read(f)


# --- other formats -------------------------------------------------------------------------------


def test_parquet_keeps_native_types_through_small_batches(tmp_path: Path) -> None:
    f = tmp_path / "d.parquet"
    _frame().to_parquet(f, row_group_size=2)
    df = _read(f)
    assert len(df) == 5
    assert pd.api.types.is_integer_dtype(df["n"]) and pd.api.types.is_float_dtype(df["x"])
    assert pd.api.types.is_bool_dtype(df["b"]) and df["s"].iloc[1] == "é"


def test_parquet_with_duplicate_names(tmp_path: Path) -> None:
    f = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"]), f)
    with pytest.raises(DataError, match="duplicate column names: 'x'"):
        _read(f)


def test_parquet_without_rows(tmp_path: Path) -> None:
    f = tmp_path / "none.parquet"
    _frame().head(0).to_parquet(f)
    with pytest.raises(DataError, match="no data rows"):
        _read(f)


@pytest.mark.parametrize("name", ["d.jsonl", "d.ndjson", "d.json", "d.jsonl.gz"])
def test_json_lines_keep_native_types(tmp_path: Path, name: str) -> None:
    text = (
        '{"n": 1, "x": 0.5, "s": "a", "when": "2024-01-01"}\n'
        '{"n": 2, "x": null, "s": "é", "when": "2024-01-02"}\n'
        '{"n": 3, "x": 2.5, "s": null, "when": "soon"}\n'
    ).encode()
    f = tmp_path / name
    f.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    df = _read(f)
    assert len(df) == 3 and pd.api.types.is_integer_dtype(df["n"])
    assert list(df["when"]) == ["2024-01-01", "2024-01-02", "soon"]  # no date guessing


def test_json_array_of_records(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text('[{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]', encoding="utf-8")
    assert _as_lists(_read(f)) == {"n": [1, 2], "s": ["a", "b"]}


def test_broken_json_lines(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text('{"n": 1}\n{"n": \n', encoding="utf-8")
    with pytest.raises(SourceError, match="JSON Lines"):
        _read(f)


def test_excel_keeps_native_types_and_warns_about_other_sheets(tmp_path: Path) -> None:
    f = tmp_path / "book.xlsx"
    with pd.ExcelWriter(f) as writer:
        _frame().to_excel(writer, sheet_name="data", index=False)
        pd.DataFrame({"other": [1]}).to_excel(writer, sheet_name="notes", index=False)
    with pytest.warns(MlwrightWarning, match="first, 'data'"):
        df = _read(f)
    assert list(df.columns) == ["n", "x", "s", "b"] and len(df) == 5
    assert pd.api.types.is_integer_dtype(df["n"]) and df["s"].iloc[1] == "é"


def test_excel_duplicate_header(tmp_path: Path) -> None:
    f = tmp_path / "dup.xlsx"
    pd.DataFrame([[1, 2, 3]], columns=["a", "b", "c"]).to_excel(f, index=False)
    df = pd.read_excel(f)
    df.columns = pd.Index(["a", "a", "c"])
    df.to_excel(f, index=False)
    with pytest.raises(DataError, match="duplicate column names: 'a'"):
        _read(f)


# --- bad files -----------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(b"")
    with pytest.raises(
        DataError,
        match=r"^file 'x\.csv' is empty; expected a header line and at least one data row$",
    ):
        _read(f)


@pytest.mark.parametrize(("name", "content"), [("blank.csv", b"\n\n  \n"), ("e.csv.gz", b"")])
def test_blank_or_empty_after_decompression(tmp_path: Path, name: str, content: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    with pytest.raises(DataError, match="is empty"):
        _read(f)


def test_header_without_rows(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("a,b,c\n", encoding="utf-8")
    with pytest.raises(DataError, match="has a header but no data rows"):
        _read(f)


def test_duplicate_column_names_found_before_pandas_renames_them(tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    f.write_text("x,x,y,y,z\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"'x' \(2 times\), 'y' \(2 times\).*Rename"):
        _read(f)


def test_ragged_rows(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    with pytest.raises(SourceError, match="same number of fields"):
        _read(f)


def test_png_named_csv(tmp_path: Path) -> None:
    f = tmp_path / "image.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(SourceError, match=r"extension '\.csv'.*PNG image"):
        _read(f)


def test_parquet_that_is_csv_text(tmp_path: Path) -> None:
    f = tmp_path / "data.parquet"
    f.write_text(_messy_text(","), encoding="utf-8")
    with pytest.raises(SourceError, match=r"extension '\.parquet'.*looks like text"):
        _read(f)


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("gz.csv", gzip.compress(b"a\n1\n"), r"'\.csv'.*gzip"),
        ("plain.csv.gz", b"a\n1\n", r"'\.csv\.gz'.*text.*expected gzip"),
        ("sheet.xlsx", b"a,b\n1,2\n", r"'\.xlsx'.*expected an Excel workbook"),
        ("db.csv", b"SQLite format 3\x00" + bytes(100), "SQLite database"),
        ("p.csv.gz", gzip.compress(b"PAR1" + bytes(50)), "contains a Parquet file"),
    ],
)
def test_content_that_is_not_what_the_extension_says(
    tmp_path: Path, name: str, content: bytes, pattern: str
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(SourceError, match=pattern):
        _read(f)


def test_legacy_xls(tmp_path: Path) -> None:
    f = tmp_path / "old.xls"
    f.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(SourceError, match=r"legacy Excel.*\.xlsx"):
        _read(f)


def test_unknown_extension(tmp_path: Path) -> None:
    f = tmp_path / "data.sav"
    f.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"'\.sav'.*expected one of \.csv, .*\.parquet"):
        _read(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        _read(tmp_path / "nope.csv")


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a folder"):
        _read(tmp_path)


# --- SQL through read_data -----------------------------------------------------------------------


def test_sql_url_goes_to_read_sql_and_needs_a_query(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    with sqlite3.connect(db) as conn:
        _frame().to_sql("t", conn, index=False)
    conn.close()
    url = f"sqlite:///{db}"
    with pytest.raises(ConfigError, match="needs a query.*--query.*query="):
        read_data(url)
    df = read_data(url, query="select n, s from t order by n", progress=False)
    assert list(df["n"]) == [1, 2, 3, 4, 5]


def test_unsupported_url_is_refused_before_asking_for_a_query() -> None:
    with pytest.raises(ConfigError, match="postgresql") as info:
        read_data("oracle://scott:tiger@db/orcl")
    assert "tiger" not in str(info.value)
