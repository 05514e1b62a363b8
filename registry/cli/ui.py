"""The one object all command output goes through.

Results go to stdout (a table, a plain line, or JSON with --json); progress, notes and
warnings go to stderr, so `RUN=$(registry train cfg.yaml | tail -n1)` just works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from registry.reporting import Reporter


class UI(Reporter):
    def __init__(self, json_mode: bool = False):
        self.json_mode = json_mode
        # Wide tables stay readable when stdout is a file or a pipe (rich assumes 80 columns).
        self.out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
        self.err = Console(stderr=True)

    # stderr: what is going on
    def info(self, message: str) -> None:
        self.err.print(escape(message), style="dim")

    def warn(self, message: str) -> None:
        self.err.print(f"[bold yellow]warning:[/] {escape(message)}")

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
        )
        with Progress(*columns, console=self.err, transient=False) as bar:
            task = bar.add_task(escape(description), total=total, detail="")

            def update(completed: int, detail: str = "", total: int | None = None) -> None:
                bar.update(task, completed=completed, detail=escape(detail), **({"total": total} if total else {}))

            yield update

    # stdout: results
    def result(self, data: Any, render: Callable[[], None]) -> None:
        """JSON of `data` with --json, otherwise whatever `render` prints."""
        if self.json_mode:
            print(json.dumps(data, indent=2, default=str))
        else:
            render()

    def line(self, text: str) -> None:
        print(text)

    def table(self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        table = Table(title=escape(title) if title else None, title_justify="left", header_style="bold")
        for index, column in enumerate(columns):
            table.add_column(column, no_wrap=index == 0)  # the first column is an id: never cut it
        for row in rows:
            table.add_row(*(escape(_cell(value)) for value in row))
        self.out.print(table)

    def rows_table(self, title: str, rows: Sequence[dict[str, Any]]) -> None:
        """A table from row dicts that share their keys (the columns)."""
        if rows:
            self.table(title, list(rows[0]), [list(row.values()) for row in rows])

    def fields(self, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
        """A two-column key/value table."""
        self.table(title, ("field", "value"), pairs)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e4:
            return f"{value:g}"
        return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
