"""Running the queue's querysets cheaply: rows straight from the cursor, and query shapes compiled once.

The queue reads hundreds of rows per request; on PostgreSQL, psycopg already hands back UUIDs, aware datetimes,
dates and intervals, and Django's per-value converters (and, for the ranked page, building the query) cost more
than running the query. Elsewhere (SQLite) the ORM does it all.
"""

from collections.abc import Callable
from typing import Any

import orjson
from django.db import connection

from backcare.core.compiled import CompiledShapes, compiled_run, params_swap


def queryset_dicts(qs) -> list[dict[str, Any]]:
    """A values() queryset's rows."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def queryset_tuples(qs) -> list[tuple]:
    """A values_list() queryset's rows."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def json_value(value: Any) -> Any:
    # Summaries are JSON text; Django's psycopg setup hands JSON columns back as text too (SQLite's ORM parses them).
    return orjson.loads(value) if isinstance(value, str) else value


# --- shapes compiled once with stand-in values, run with a read's own values ------------------------------------

_SHAPES = CompiledShapes(max_shapes=64)


def query_compile(shape: tuple, build: Callable[[], tuple]) -> tuple[tuple[str, tuple], ...]:
    """The (sql, params) of the querysets build() makes with stand-in values, compiled once per shape."""
    return _SHAPES.get(shape, build)


def query_swap(compiled: tuple, actual: dict) -> tuple[tuple[str, list], ...]:
    """The compiled queries with this read's values in place of the stand-ins."""
    return tuple((sql, params_swap(template, actual)) for sql, template in compiled)


def query_run(query) -> list[tuple]:
    """Rows of a values_list() queryset (through the ORM's converters), or of compiled (sql, params)."""
    if not isinstance(query, tuple):
        return list(query)
    sql, params = query
    return compiled_run(sql, params)
