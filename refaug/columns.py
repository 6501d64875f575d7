"""Adding or replacing columns of a ``Dataset`` as Arrow arrays, without hashing their values.

``Dataset.add_column`` fingerprints its call by pickling the values it is given (dill, object by
object): for the no-target lists of 1/8 of RefCOCO (63,540 dicts) that took 8.3 s of the mine
stage, ten times the cost of building the Arrow array. :func:`replace_columns` converts the values
to the features' Arrow types once and joins them to the dataset's table; the new dataset's
fingerprint hashes the joined table (its buffers), not Python objects.

Example:
    >>> from datasets import Dataset, Value
    >>> ds = replace_columns(Dataset.from_dict({"a": [1, 2]}), {"b": ["x", "y"]}, {"b": Value("string")})
    >>> ds["b"]
    ['x', 'y']
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, Features, concatenate_datasets
from datasets.info import DatasetInfo
from datasets.table import InMemoryTable


def arrow_type(feature: Any) -> pa.DataType:
    """The Arrow type of a ``datasets`` feature."""
    return Features({"x": feature}).arrow_schema.field("x").type


def replace_columns(ds: Dataset, columns: dict[str, Any], features: dict[str, Any]) -> Dataset:
    """``ds`` with ``columns`` added, or replaced where it has them: per name an Arrow array or a
    list of Python values in row order, of the feature ``features[name]``."""
    arrays = {name: values if isinstance(values, pa.Array | pa.ChunkedArray)
              else pa.array(values, type=arrow_type(features[name]))
              for name, values in columns.items()}
    for name, values in arrays.items():
        if len(values) != len(ds):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(ds)} rows")
    base = ds.remove_columns([c for c in arrays if c in ds.column_names])
    if base._indices is not None:
        base = base.flatten_indices()
    return concatenate_datasets([base, table_dataset(pa.table(arrays), Features(features))], axis=1)


def table_dataset(table: pa.Table, features: Features) -> Dataset:
    """An in-memory ``Dataset`` of an Arrow table, cast to the declared ``features``."""
    return Dataset(InMemoryTable(table.cast(features.arrow_schema)), info=DatasetInfo(features=features))


def column(ds: Dataset, name: str) -> pa.ChunkedArray:
    """A column as Arrow, in the dataset's row order (an indices mapping applied), no Python rows."""
    return ds.with_format("arrow")[name]


def item_field(ds: Dataset, name: str, field: str) -> pa.ChunkedArray | None:
    """A field of the items of a list-of-structs column, all rows' items in order (None where
    the items have no such field: rows written before it)."""
    items = pc.list_flatten(column(ds, name))
    if field not in {f.name for f in items.type}:
        return None
    return pc.struct_field(items, field)


def value_counts(values: pa.ChunkedArray | pa.Array, *, null: str | None = None) -> Counter:
    """How often each value occurs (nulls counted under ``null``, or not at all)."""
    if null is not None:
        values = pc.fill_null(values, null)
    found = pc.value_counts(values).to_pylist() if len(values) else []
    return Counter({c["values"]: c["counts"] for c in found if c["values"] is not None})


def list_lengths(ds: Dataset, name: str) -> np.ndarray:
    """Per row, the length of a list column (0 for a null)."""
    return pc.fill_null(pc.list_value_length(column(ds, name)), 0).to_numpy()
