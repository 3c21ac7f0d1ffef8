"""Rows of the read-model tables by column name, in the table's column order for the driver.

Bulk passes build millions of rows and hand them to the driver as sequences in column order
(``registry._sql.driver.PositionalInsert``). Building them positionally by hand would silently
shift values when a column is added; here every row is built by keyword, one argument per
column, and a table's :class:`TableRows` is the one place that knows the order. Reads go the
same way: :meth:`TableRows.reader` picks columns by name, at indexes computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table

#: Builds a row from one keyword argument per column (no more, no fewer), as a list in column order.
RowMaker = Callable[..., list[Any]]


def _row_maker(table_name: str, columns: Sequence[str]) -> RowMaker:
    # Generated once per table, like collections.namedtuple: a call by keyword costs a fraction of a
    # microsecond, where a dict per row and a lookup per column would cost several times that.
    if not all(column.isidentifier() for column in columns):
        raise ValueError(f"columns of {table_name} must be identifiers to be built by name: {columns}")
    arguments = ", ".join(columns)
    namespace: dict[str, Any] = {}
    exec(f"def make_{table_name}_row(*, {arguments}):\n    return [{arguments}]\n", namespace)
    maker: RowMaker = namespace[f"make_{table_name}_row"]
    maker.__doc__ = f"A {table_name} row by column name, as a list in column order."
    return maker


class TableRows:
    """How rows of one table are built by column name and read back by column name."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns: tuple[str, ...] = tuple(table.columns.keys())
        self.index: dict[str, int] = {column: i for i, column in enumerate(self.columns)}
        self.make: RowMaker = _row_maker(table.name, self.columns)

    def reader(self, *columns: str) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        """Picks ``columns`` (by name) out of a row of ``table.select()``, as a tuple in that order."""
        if len(columns) < 2:  # itemgetter of one index returns the value itself, not a tuple
            raise ValueError("read at least two columns")
        return itemgetter(*(self.index[column] for column in columns))
