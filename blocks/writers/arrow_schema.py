"""Turn batches of record dicts into Arrow tables of one fixed schema (for ParquetWriter).

A Parquet file has one schema, fixed when it is opened, while documents' metadata varies.
:func:`infer_schema` derives the schema from a batch; :func:`conform` then fits any later
batch to it without losing data silently:

- a column or struct field missing from a record is null;
- a field the schema does not have, or whose schema type is ``null`` (it was always null
  in the first batch), is dropped and reported in ``dropped`` (path -> values dropped);
- values are cast with ``safe=True``: an int column never silently truncates a float;
- a batch that cannot be cast raises; the caller retries record by record.

:func:`parse_schema` reads a schema written as ``{column: "arrow type"}`` (the text
pyarrow prints, e.g. ``"struct<url: string, score: double>"``), so a spec can fix it.

pyarrow is imported inside the functions so that importing this module stays light.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

#: errors pyarrow raises for values that do not fit a type (ArrowInvalid is a ValueError,
#: ArrowTypeError a TypeError, ArrowNotImplementedError a NotImplementedError)
CONVERSION_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    NotImplementedError,
    OverflowError,
)


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    return list(names)


def infer_table(rows: Sequence[dict[str, Any]]) -> Any:
    """An Arrow table of ``rows`` with types inferred from all rows (columns in first-seen order)."""
    import pyarrow as pa

    names = _columns(rows)
    arrays = [pa.array([row.get(name) for row in rows]) for name in names]
    return pa.Table.from_arrays(arrays, names=names)


def _storable(dtype: Any) -> Any | None:
    """``dtype`` without struct types that have no fields (Parquet cannot store them)."""
    import pyarrow as pa

    if pa.types.is_struct(dtype):
        fields = []
        for i in range(dtype.num_fields):
            child = dtype.field(i)
            kept = _storable(child.type)
            if kept is not None:
                fields.append(child.with_type(kept))
        return pa.struct(fields) if fields else None
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = _storable(dtype.value_type)
        if inner is None:
            return None
        return pa.list_(inner) if pa.types.is_list(dtype) else pa.large_list(inner)
    return dtype


def storable_schema(schema: Any) -> Any:
    """The schema without fields Parquet cannot store (empty structs, lists of them)."""
    import pyarrow as pa

    fields = []
    for f in schema:
        kept = _storable(f.type)
        if kept is not None:
            fields.append(f.with_type(kept))
    return pa.schema(fields)


def infer_schema(rows: Sequence[dict[str, Any]]) -> Any:
    """The schema of a first batch, storable in Parquet.

    Types come from all rows (ints and floats give float64, null and X give X, struct
    fields are the union). If rows disagree in a way Arrow cannot unify (a string and an
    int in one column) the schema is grown row by row and the rows that conflict are
    left to fail later, one by one.
    """
    import pyarrow as pa

    try:
        return storable_schema(infer_table(rows).schema)
    except CONVERSION_ERRORS:
        pass
    schema = None
    for row in rows:
        try:
            row_schema = infer_table([row]).schema
            schema = (
                row_schema
                if schema is None
                else pa.unify_schemas([schema, row_schema], promote_options="permissive")
            )
        except CONVERSION_ERRORS:
            continue
    if schema is None:
        schema = pa.schema([("text", pa.string()), ("id", pa.string())])
    return storable_schema(schema)


def _present(array: Any) -> int:
    return len(array) - array.null_count


def _prune(array: Any, target: Any, path: str, dropped: Counter[str]) -> Any:
    """Drop what ``target`` has no place for (recording it) and add its missing fields."""
    import pyarrow as pa

    source = array.type
    if source == target:
        return array
    if pa.types.is_null(target):
        if not pa.types.is_null(source) and _present(array):
            dropped[path] += _present(array)
        return pa.nulls(len(array))
    if pa.types.is_struct(source) and pa.types.is_struct(target):
        children = []
        for i in range(target.num_fields):
            field = target.field(i)
            index = source.get_field_index(field.name)
            if index < 0:
                children.append(pa.nulls(len(array), field.type))
            else:
                child = array.field(index)
                children.append(_prune(child, field.type, f"{path}.{field.name}", dropped))
        for i in range(source.num_fields):
            name = source.field(i).name
            if target.get_field_index(name) < 0 and _present(array.field(i)):
                dropped[f"{path}.{name}"] += _present(array.field(i))
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    list_types = (pa.types.is_list, pa.types.is_large_list)
    if any(t(source) for t in list_types) and any(t(target) for t in list_types):
        values = _prune(array.values, target.value_type, f"{path}[]", dropped)
        kind = pa.ListArray if pa.types.is_list(target) else pa.LargeListArray
        mask = array.is_null() if array.null_count else None
        offsets = array.offsets
        if pa.types.is_large_list(target) != pa.types.is_large_list(source):
            offsets = offsets.cast(pa.int64() if pa.types.is_large_list(target) else pa.int32())
        return kind.from_arrays(offsets, values, mask=mask)
    return array.cast(target, safe=True)


def conform(table: Any, schema: Any) -> tuple[Any, Counter[str]]:
    """Fit an inferred table to ``schema``; returns the table and the dropped value counts."""
    import pyarrow as pa

    dropped: Counter[str] = Counter()
    columns = []
    for field in schema:
        if field.name in table.column_names:
            array = table.column(field.name).combine_chunks()
            array = _prune(array, field.type, field.name, dropped)
            columns.append(array.cast(field.type, safe=True))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    for name in table.column_names:
        if schema.get_field_index(name) < 0:
            column = table.column(name)
            if _present(column):
                dropped[name] += _present(column)
    return pa.Table.from_arrays(columns, schema=schema), dropped


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside ``<...>`` and ``[...]``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<[":
            depth += 1
        elif ch in ">]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_type(text: str) -> Any:
    """An Arrow type from its text: ``string``, ``int64``, ``list<string>``,
    ``struct<a: int64, b: list<item: double>>``, ``map<string, int64>``,
    ``timestamp[ms]``, ``timestamp[us, tz=UTC]``... (what ``str(pyarrow type)`` prints)."""
    import pyarrow as pa

    text = text.strip()
    if text.endswith(">") and "<" in text:
        head, inner = text[:-1].split("<", 1)
        head = head.strip()
        if head in ("list", "large_list"):
            item = _split_top(inner, ":")[-1]  # "item: T" or "T"
            value = parse_type(item)
            return pa.list_(value) if head == "list" else pa.large_list(value)
        if head == "struct":
            fields = []
            for part in _split_top(inner, ",") if inner.strip() else []:
                name, _, dtype = part.partition(":")
                if not _:
                    raise ValueError(f"struct field {part!r} needs 'name: type'")
                fields.append(pa.field(name.strip(), parse_type(dtype)))
            return pa.struct(fields)
        if head == "map":
            key, value = _split_top(inner, ",")
            return pa.map_(parse_type(key), parse_type(value))
        raise ValueError(f"unknown Arrow type {text!r}")
    if text.startswith("timestamp[") and text.endswith("]"):
        unit, *rest = _split_top(text[len("timestamp[") : -1], ",")
        tz = rest[0].partition("=")[2].strip() if rest else None
        return pa.timestamp(unit.strip(), tz=tz or None)
    try:
        return pa.type_for_alias(text)
    except ValueError:
        raise ValueError(f"unknown Arrow type {text!r}") from None


def parse_schema(columns: Any) -> Any:
    """``{column: "arrow type"}`` -> ``pyarrow.Schema``; a Schema is returned as is."""
    import pyarrow as pa

    if isinstance(columns, pa.Schema):
        return columns
    if not isinstance(columns, dict) or not columns:
        raise ValueError("schema must be a pyarrow.Schema or a non-empty {column: type} mapping")
    return pa.schema([pa.field(str(name), parse_type(str(t))) for name, t in columns.items()])
