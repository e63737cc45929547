"""A served model's request rows, typed by the JSON path, are what conform makes of them."""

from __future__ import annotations

from ..data.test_typed import _assert_same


def test_session_model_rows_match(trained, test_rows):
    columns = {name: test_rows[name].astype(object).where(test_rows[name].notna(), None).tolist()
               for name in trained.schema_.feature_names}  # fmt: skip
    _assert_same(columns, trained.schema_, len(test_rows))
