"""Querysets compiled once per shape with stand-in values, then run with each read's own values.

On the hot reads (the timeline's union, the triage queue) building the queryset costs more than running it. A
shape (which filters are present, which kinds) compiles once with distinctive stand-in values; each read swaps
its own values in for the stand-ins among the parameters. Stand-ins must be values a read never passes.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet


class CompiledShapes:
    """(sql, params) per shape, kept per process; bounded, as odd shapes must not pile up."""

    def __init__(self, *, max_shapes: int) -> None:
        self._compiled: dict[tuple, tuple[tuple[str, tuple], ...]] = {}
        self._max = max_shapes

    def get(self, shape: tuple, build: Callable[[], Iterable[QuerySet]]) -> tuple[tuple[str, tuple], ...]:
        if shape not in self._compiled:
            if len(self._compiled) >= self._max:
                self._compiled.clear()
            compiled = (q.query.sql_with_params() for q in build())
            self._compiled[shape] = tuple((sql, tuple(params)) for sql, params in compiled)
        return self._compiled[shape]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def params_swap(template: tuple, actual: dict) -> list:
    """The compiled parameters with this read's values in place of the stand-ins."""
    return [actual.get(value, value) if _hashable(value) else value for value in template]


def compiled_run(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
