"""Shadow evidence: compare the champion with a version that scored the live traffic silently.

``mlwright serve churn@production --shadow churn@challenger`` logs, for every answered request,
the champion's prediction and the shadow's under the same request id (the shadow's with source
"shadow"); a label posted for the request joins both. ``retrain`` with ``compare = "shadow"``
(``mlwright retrain churn --shadow churn@challenger``) trains nothing: it pairs the labelled
requests that the champion version answered and the shadow version scored, compares what each
predicted then against what happened with the paired bootstrap of the holdout path, and
promotes the shadow under the same rule (``policy.judge``).

Each decision about a shadow version judges only requests logged after the newest earlier
decision about it, so checking again as labels arrive never re-tests the same rows (repeated
looks at one growing sample would add up to a false promotion).

Example:
    >>> decision = retrain(mlwright.registry(), "churn", shadow="churn@challenger")
    >>> decision.decision, decision.data["shared"]
    ('kept', 412)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from mlwright.comparison import compare_scores, label_key
from mlwright.errors import ConfigError
from mlwright.evaluation import Comparison
from mlwright.model import Model
from mlwright.operate.data import encoded_labels, typed_actuals
from mlwright.registry import Registry, parse_ref
from mlwright.registry.operations import SHADOW_SOURCE

__all__ = ["SharedRows", "compare_shadow", "shadow_reference", "shared_rows", "shortfall"]


def shadow_reference(name: str, spec: str) -> str:
    """The shadow of model ``name`` as a reference: ``challenger``, ``4`` or ``churn@challenger``
    all name a version of ``name``; another model's version is an error.

    Example:
        >>> shadow_reference("churn", "challenger")
        'churn@challenger'
    """
    ref = spec if "@" in spec else f"{name}@{spec}"
    found, _ = parse_ref(ref)
    if found != name:
        raise ConfigError(
            f"the shadow {spec} is not a version of '{name}': labels join predictions by model, "
            f"so only a version of {name} can have shadowed it. Expected an alias or version of "
            f"{name}, e.g. {name}@challenger."
        )
    return ref


@dataclass
class SharedRows:
    """The labelled requests both versions scored, oldest first: labels (class indices in the
    champion's order, values for regression), each version's logged scores in the same form
    (``comparison.compare_scores``), when the newest was logged, and counts of what was found."""

    y: np.ndarray
    champion: np.ndarray
    shadow: np.ndarray
    newest: datetime | None
    info: dict[str, Any]

    def __len__(self) -> int:
        return len(self.y)


def shared_rows(
    registry: Registry,
    name: str,
    champion: Model,
    champion_version: int,
    shadow: Model,
    shadow_version: int,
    *,
    after: datetime | None = None,
) -> SharedRows:
    """Pair the labelled requests that ``champion_version`` answered and ``shadow_version``
    scored as the shadow (logged after ``after``), keeping those both scored and whose label is
    one the champion knows."""
    ops = registry.operations
    live = ops.read(name, version=champion_version, labelled_only=True, since=after).rows
    shade = ops.read(name, version=shadow_version, labelled_only=True, since=after).rows
    live, shade = live[live["source"] != SHADOW_SOURCE], shade[shade["source"] == SHADOW_SOURCE]
    if after is not None:  # ``since`` includes ``after`` itself; rows judged then are out
        live, shade = (
            live[live["at"] > pd.Timestamp(after)],
            shade[shade["at"] > pd.Timestamp(after)],
        )
    info: dict[str, Any] = {
        "compare": "shadow",
        "after": None if after is None else after.isoformat(),
        "champion_labelled": len(live),
        "shadow_labelled": len(shade),
    }
    pairs = (
        live.drop_duplicates("request_id", keep="last")
        .merge(
            shade.drop_duplicates("request_id", keep="last"),
            on="request_id",
            suffixes=("", "_shadow"),
        )
        .sort_values("at", kind="stable")
        .reset_index(drop=True)
    )
    info["shared"] = len(pairs)
    both = (pairs["rejected"].isna() & pairs["rejected_shadow"].isna()).to_numpy(dtype=bool)
    actual, unusable = typed_actuals(pairs["actual"], champion)
    usable = both & actual.notna().to_numpy(dtype=bool)
    info.update(unscored=int((~both).sum()), label_problems=unusable, usable=int(usable.sum()))
    pairs = pairs[usable].reset_index(drop=True)
    classes = champion.classes_
    return SharedRows(
        y=encoded_labels(actual[usable].reset_index(drop=True), champion),
        champion=_logged_scores(pairs, "", champion, classes),
        shadow=_logged_scores(pairs, "_shadow", shadow, classes),
        newest=None if not len(pairs) else pairs["at"].max().to_pydatetime(),
        info=info,
    )


def _logged_scores(
    pairs: pd.DataFrame, suffix: str, model: Model, classes: list[Any] | None
) -> np.ndarray:
    """One version's logged class probabilities in ``classes`` order (a class it does not know
    gets 0), or its logged values for regression; NaN where nothing usable was logged."""
    if classes is None:
        values = pd.to_numeric(pairs[f"prediction{suffix}"], errors="coerce")
        return values.to_numpy(dtype=float)
    own = [label_key(c) for c in model.classes_ or []]
    out = np.full((len(pairs), len(classes)), np.nan)
    for row, proba in enumerate(pairs[f"probabilities{suffix}"]):
        if isinstance(proba, list) and len(proba) == len(own):
            by_class = dict(zip(own, proba, strict=True))
            out[row] = [float(by_class.get(label_key(c), 0.0)) for c in classes]
    return out


def compare_shadow(
    champion: Model,
    shadow: Model,
    rows: SharedRows,
    *,
    names: tuple[str, str],
    alpha: float,
    seed: int = 0,
) -> tuple[Comparison, int]:
    """The paired bootstrap of the shadow (``a``) against the champion (``b``) on what each
    predicted for the shared requests; returns it and the rows left out (nothing usable
    logged)."""
    return compare_scores(
        champion, shadow, rows.shadow, rows.champion, rows.y, names=names, alpha=alpha, seed=seed
    )


def shortfall(name: str, ref: str, rows: SharedRows, needed: int, versions: tuple[int, int]) -> str:
    """Why there is nothing to judge yet, and what to do."""
    champion, shadow = versions
    after = rows.info.get("after")
    since = "" if after is None else f" logged after the last decision about it ({after})"
    return (
        f"not enough shared labelled requests to compare the champion (version {champion}) with "
        f"the shadow {ref} (version {shadow}): the comparison needs at least {needed:,} "
        f"labelled requests that both scored{since}, and there are {len(rows):,} "
        f"({rows.info['shared']:,} shared, of {rows.info['champion_labelled']:,} labelled "
        f"answers of the champion). Serve with `mlwright serve {name}@ALIAS --shadow {ref}`, "
        f"add labels (`mlwright feedback {name} FILE` or POST /feedback), or lower [retrain] "
        "min_holdout_rows."
    )
