"""The results table of a sweep: one CSV row per point x seed x method.

Columns: ``method``, ``seed``, ``accuracy`` (test accuracy, a fraction), then every swept field by its dotted
path. Numbers are written in Python's shortest round-trip form, lists as JSON, booleans as true/false, so
the same runs always give the same bytes and :func:`read_table` gives back the values.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["FIXED_COLUMNS", "TableError", "format_table", "read_table", "parse_cell"]

FIXED_COLUMNS = ("method", "seed", "accuracy")


class TableError(ValueError):
    """A results table is missing, unreadable or not a sweep table; the message names the file."""


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return "" if value is None else str(value)


def format_table(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """CSV text of ``rows`` (dicts with the fixed columns and every field)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *fields])
    for row in rows:
        writer.writerow([_cell(row[c]) for c in (*FIXED_COLUMNS, *fields)])
    return buf.getvalue()


def parse_cell(text: str) -> Any:
    """A table cell back to a value: int, float, bool, list (JSON), None (empty) or the string itself."""
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text


def read_table(path: str | Path) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """(swept fields, rows) of a sweep table; errors name the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise TableError(f"{path}: cannot read the results table ({err.strerror})") from None
    except UnicodeDecodeError:
        raise TableError(f"{path}: not a text (CSV) results table") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or tuple(header[:3]) != FIXED_COLUMNS:
        raise TableError(f"{path}: not a sweep results table (its first columns must be "
                         f"{', '.join(FIXED_COLUMNS)}; found {', '.join(header or ['nothing'])})")
    fields = tuple(header[3:])
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise TableError(f"{path}, line {line}: {len(cells)} cells, expected {len(header)}")
        row = {name: parse_cell(cell) for name, cell in zip(header, cells, strict=True)}
        row["method"] = cells[0]
        acc = row["accuracy"]
        if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not math.isfinite(acc):
            raise TableError(f"{path}, line {line}: accuracy {cells[2]!r} is not a number")
        rows.append(row)
    if not rows:
        raise TableError(f"{path}: the table has no rows yet")
    return fields, rows
