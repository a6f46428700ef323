"""``metrics.csv``: the flat form of a run's ``metrics.jsonl`` for spreadsheets and pandas.

One row per record (an epoch of a stage, or of a training run); the columns are the scalar
fields of every record in order of first appearance (nested ones such as op weights or
decisions stay in metrics.jsonl only); a field a record lacks is an empty cell.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable

from ..checkpoint import atomic_write_text

SCALARS = (str, int, float, bool)


def columns(records: Iterable[dict[str, Any]]) -> list[str]:
    """The scalar fields of ``records``, in order of first appearance."""
    seen: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if isinstance(v, SCALARS) or v is None:
                seen.setdefault(k, None)
    return list(seen)


def csv_text(records: list[dict[str, Any]]) -> str:
    """``records`` as CSV text with a header row (empty cells for missing or None fields)."""
    out = io.StringIO()
    names = columns(records)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in records:
        writer.writerow(["" if r.get(k) is None or not isinstance(r.get(k), SCALARS) else r[k]
                         for k in names])
    return out.getvalue()


def write_csv(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` to ``path`` as CSV (atomically: rewritten whole, since a later record
    may bring a new column)."""
    atomic_write_text(path, csv_text(records))
    return Path(path)
