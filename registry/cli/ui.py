"""The one object all command output goes through.

Results go to stdout (a table, a plain line, or JSON with --json); progress, notes and
warnings go to stderr, so `RUN=$(registry train cfg.yaml | tail -n1)` just works.

Much of what is printed comes from manifests, model folders and the database, so every
string goes through `registry.text.printable` here: no escape sequence, bidirectional
override or newline reaches the terminal raw (a forged newline could fake a result line).
JSON stays inert because json.dumps escapes every non-ASCII and control character.
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
from registry.text import printable


class UI(Reporter):
    def __init__(self, json_mode: bool = False):
        self.json_mode = json_mode
        # Wide tables stay readable when stdout is a file or a pipe (rich assumes 80 columns).
        self.out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
        self.err = Console(stderr=True)

    # stderr: what is going on
    def info(self, message: str) -> None:
        self.err.print(_safe(message), style="dim")

    def warn(self, message: str) -> None:
        self.err.print(f"[bold yellow]warning:[/] {_safe(message)}")

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
            task = bar.add_task(_safe(description), total=total, detail="")

            def update(completed: int, detail: str = "", total: int | None = None) -> None:
                bar.update(task, completed=completed, detail=_safe(detail), **({"total": total} if total else {}))

            yield update

    # stdout: results
    def result(self, data: Any, render: Callable[[], None]) -> None:
        """JSON of `data` with --json, otherwise whatever `render` prints."""
        if self.json_mode:
            # ensure_ascii (the default, kept explicit): ESC, CR, U+202E... come out as \u escapes.
            print(json.dumps(data, indent=2, default=str, ensure_ascii=True))
        else:
            render()

    def line(self, text: str) -> None:
        """One line, always: a newline inside `text` becomes a space (call line() once per line)."""
        print(printable(text))

    def table(self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        table = Table(title=_safe(title) if title else None, title_justify="left", header_style="bold")
        for index, column in enumerate(columns):
            table.add_column(_safe(column), no_wrap=index == 0)  # the first column is an id: never cut it
        for row in rows:
            table.add_row(*(_safe(_cell(value)) for value in row))
        self.out.print(table)

    def rows_table(self, title: str, rows: Sequence[dict[str, Any]]) -> None:
        """A table from row dicts that share their keys (the columns)."""
        if rows:
            self.table(title, list(rows[0]), [list(row.values()) for row in rows])

    def fields(self, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
        """A two-column key/value table."""
        self.table(title, ("field", "value"), pairs)


def _safe(text: object) -> str:
    """Untrusted text as one inert line of rich markup: no control characters, no markup tags."""
    return escape(printable(text))


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
