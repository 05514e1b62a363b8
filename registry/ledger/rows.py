"""Rows as canonical JSON: one byte string per row, whatever database stored it.

Values are made JSON the same way for every table: timestamps as UTC ISO 8601 (the
registry stores naive UTC), non-finite floats as strings (JSON has no Infinity: a PSNR of
identical images is infinite), bytes as hex; RFC 8785 then fixes key order and number
formatting, so SQLite and PostgreSQL give the same hash for the same record.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import hashlib
import math
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any

import rfc8785
from sqlalchemy import Table, select, tuple_
from sqlalchemy.engine import Connection

from registry.models import Base

LEDGER_TABLES = ("ledger_entries", "ledger_heads")  # the ledger does not record itself
# Nor who holds a run's lock (registry.run_locks): operational state rewritten by every heartbeat.
UNRECORDED_TABLES = (*LEDGER_TABLES, "run_locks")


def recorded_tables() -> list[Table]:
    """Every table of the schema whose writes the ledger records, in a fixed order."""
    return [table for name, table in sorted(Base.metadata.tables.items()) if name not in UNRECORDED_TABLES]


def is_recorded(table: Table) -> bool:
    return table.name not in UNRECORDED_TABLES


def json_value(value: Any) -> Any:
    """A stored value as plain JSON (see the module docstring for the rules)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # "inf", "-inf", "nan"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    return value


_SAFE_INTEGER = 2**53  # RFC 8785 numbers are IEEE doubles: larger integers go through rfc8785 (and fail there)
_encode_string = encode_basestring  # RFC 8785's escapes (\b \t \n \f \r, other controls as \u00xx), in C


def canonical(value: Any) -> bytes:
    """RFC 8785 JSON of a stored value (after json_value's rules), byte for byte what `rfc8785.dumps`
    gives, but in one pass and at C speed where it can: strings use the C JSON encoder (the
    same escapes), numbers follow ECMAScript through rfc8785, keys are sorted by UTF-16 code
    units. tests/test_ledger_rows.py checks the two agree."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, int) and -_SAFE_INTEGER < value < _SAFE_INTEGER:
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return _ecmascript_number(value)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            value = {str(key): item for key, item in value.items()}
        return "{" + ",".join(f"{_encode_string(key)}:{_encode(value[key])}" for key in _sorted_keys(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, (datetime.datetime, float, bytes)):
        return _encode(json_value(value))
    return rfc8785.dumps(value).decode()  # anything else: rfc8785 decides (or refuses)


def _ecmascript_number(value: float) -> str:
    """ECMAScript's Number::toString, which RFC 8785 prescribes, from Python's shortest repr
    (the same digits: both are the shortest string that reads back as the same double)."""
    if value == 0:
        return "0"
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits x 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        power = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if power > 0 else "-") + str(abs(power))
    return ("-" if value < 0 else "") + text


@functools.lru_cache(maxsize=1024)
def _key_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(keys, key=lambda key: key.encode("utf-16-be")))


def _sorted_keys(mapping: dict[str, Any]) -> tuple[str, ...]:
    # Rows of one table share their keys: their order is worked out once.
    return _key_order(tuple(mapping))


def row_key(table: Table, row: Any) -> str:
    """The row's primary key as text (columns joined by '/' for a composite key)."""
    return "/".join(str(row[column.name]) for column in table.primary_key.columns)


def row_digest(table: Table, row: Any) -> str:
    """sha256 of the row's canonical JSON: every column, by name (a row read by read_rows)."""
    return hashlib.sha256(canonical(dict(row))).hexdigest()


def row_json(table: Table, row: Any) -> dict[str, Any]:
    return json_value({column.name: row[column.name] for column in table.columns})


KEYS_PER_QUERY = 500  # SQLite caps the parameters of one statement


def read_rows(connection: Connection, table: Table, keys: Iterable[tuple] | None = None) -> Iterator[Any]:
    """Rows of `table` as the database returns them (all, or those with these primary keys)."""
    if keys is None:
        yield from connection.execute(select(table)).mappings()
        return
    columns = list(table.primary_key.columns)
    keys = list(keys)
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        if len(columns) == 1:
            condition = columns[0].in_([key[0] for key in chunk])
        else:
            condition = tuple_(*columns).in_(chunk)
        yield from connection.execute(select(table).where(condition)).mappings()
