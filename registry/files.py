"""Writing a file the user named (--out): never through a link, never over a file by surprise.

The data goes to a temporary file beside the target and is renamed into place, so a reader
never sees half a file and a failure leaves nothing under the final name. An existing
target is replaced only with --force; a symbolic link at the target is refused even then
(it could point anywhere: the registry's own files, another user's).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from registry.errors import RegistryError

FORCE_OPTION = "--force"


def write_new(path: Path, data: bytes, force: bool = False, mode: int = 0o644) -> Path:
    path = Path(path)
    if path.is_symlink():
        raise RegistryError(f"{path} is a symbolic link; refusing to write through it")
    if path.exists() and not force:
        raise RegistryError(f"{path} already exists; pass {FORCE_OPTION} to replace it")
    if path.exists() and not path.is_file():
        raise RegistryError(f"{path} exists and is not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, value: Any, force: bool = False) -> Path:
    return write_new(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode(), force)


def read_json(path: Path, what: str) -> Any:
    """A JSON file given on the command line; one-line error when missing or malformed."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise RegistryError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(f"{what} {path} is not JSON: {exc}") from None


def current_umask() -> int:
    """The process umask, read without changing it (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
