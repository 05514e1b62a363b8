"""How long-running registry work talks to the user, without knowing about terminals.

The CLI passes a rich implementation (stderr, progress bars); tests and library callers
can use the silent default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Reporter:
    """Silent by default; the CLI overrides these to print on stderr."""

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        """Yields update(completed, detail="", total=None); total may be learnt late."""
        yield lambda completed, detail="", total=None: None
