"""Plain-text tables and counts for the command line (the CLI prints them; the library never prints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from datasets import Dataset


def format_table(rows: Iterable[Sequence[object]], headers: Sequence[str], *, title: str | None = None) -> str:
    """Render rows as an aligned text table; numbers align right.

    Example:
        >>> print(format_table([("train", 3)], ["split", "referents"]))
        split  referents
        -----  ---------
        train          3
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [] if title is None else [title]
    out.append(line(list(headers)))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def length_bucket(n_words: int) -> str:
    if n_words <= 2:
        return "1-2"
    if n_words <= 4:
        return "3-4"
    if n_words <= 8:
        return "5-8"
    return "9+"


def dataset_counts(name: str, ds: Dataset) -> dict[str, Counter]:
    """Counts per category and per expression length (in words) of one split."""
    categories: Counter = Counter()
    lengths: Counter = Counter()
    if "category" in ds.column_names:
        categories.update(ds["category"])
    column = "expressions" if "expressions" in ds.column_names else "expression"
    for value in ds[column] if column in ds.column_names else []:
        texts = value if isinstance(value, list) else [value]
        lengths.update(length_bucket(len(t.split())) for t in texts)
    return {"category": categories, "length": lengths}
