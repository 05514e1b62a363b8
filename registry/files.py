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


def check_target(path: Path, force: bool = False) -> None:
    """Refuse, before any work, a target that is a link (even with --force), not a file, or
    (without --force) already there."""
    path = Path(path)
    if path.is_symlink():
        raise RegistryError(f"{path} is a symbolic link; refusing to write through it")
    if path.exists() and not path.is_file():
        raise RegistryError(f"{path} exists and is not a file")
    if path.exists() and not force:
        raise RegistryError(f"{path} already exists; pass {FORCE_OPTION} to replace it")


def staging_path(target: Path) -> Path:
    """A fresh name beside `target` for the file being written (same folder: the rename is atomic)."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".partial{target.suffix}")
    os.close(handle)
    return Path(name)


def place(staging: Path, target: Path, force: bool = False, mode: int = 0o666) -> Path:
    """Move a finished file from `staging` to its final name, with the mode the umask gives.

    Without --force it takes the name only if nobody has (a hard link fails on an existing
    name, so a file that appeared since the check is not clobbered either); with --force it
    replaces a regular file. A link at the target is never written through: a rename
    replaces the link itself, and `check_target` refuses one before that.
    """
    check_target(target, force)
    os.chmod(staging, mode & ~current_umask())
    if force:
        os.replace(staging, target)
        return target
    try:
        os.link(staging, target, follow_symlinks=False)
    except FileExistsError:
        raise RegistryError(f"{target} already exists; pass {FORCE_OPTION} to replace it") from None
    except OSError:  # a file system without hard links: checked just above, then renamed
        os.replace(staging, target)
        return target
    os.unlink(staging)
    return target


def write_new(path: Path, data: bytes, force: bool = False, mode: int = 0o644) -> Path:
    path = Path(path)
    check_target(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = staging_path(path)
    try:
        temporary.write_bytes(data)
        place(temporary, path, force, mode)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def refuse_registry_folders(out: Path, workspace_root: Path | None) -> None:
    """Outputs never go into the registry's own folders: `data/` (DVC-tracked datasets) or
    `.registry/` (the database, checkpoints, keys). Checked on the resolved path: a link
    pointing there counts as there."""
    if workspace_root is None:
        return
    resolved = Path(os.path.abspath(out)).resolve()
    for folder in ("data", ".registry"):
        if resolved.is_relative_to((workspace_root / folder).resolve()):
            raise RegistryError(f"--out {out} is inside the workspace's {folder}/ folder; choose another")


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
