"""The DVC side of a workspace: one `data.dvc` at the root tracks the whole `data/` folder.

DVC's Python API is used in-process; it prints advice on stdout, which is reserved for
our results, so its output is silenced.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from registry.errors import RegistryError

DATA_DIR = "data"
DATA_DVC = "data.dvc"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Send whatever DVC prints to /dev/null, at the file-descriptor level.

    DVC writes through its own console and logging handlers that hold on to the
    original stdout, so swapping `sys.stdout` alone is not enough.
    """
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    logger = logging.getLogger("dvc")  # errors still surface, as exceptions
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        logger.setLevel(level)


def _repo(root: Path):
    from dvc.repo import Repo  # heavy import, only when DVC is needed

    return Repo(str(root))


def ensure_initialized(root: Path, subdir: bool) -> bool:
    """`dvc init` unless done already; returns True when it initialised."""
    if (root / ".dvc").is_dir():
        return False
    from dvc.repo import Repo

    with _quiet():
        repo = Repo.init(str(root), subdir=subdir)
        with repo.config.edit() as config:
            config["core"]["analytics"] = "false"
    return True


def add_data(root: Path) -> str:
    """`dvc add data`: (re)hash data/ into the cache and rewrite data.dvc; returns the version."""
    from dvc.exceptions import DvcException

    with _quiet():
        repo = _repo(root)
        try:
            repo.add(str(root / DATA_DIR))
        except DvcException as exc:
            raise RegistryError(f"dvc add data failed: {exc}") from None
        finally:
            repo.close()
    return data_version(root)[0]


def data_version(root: Path) -> tuple[str, str]:
    """(md5 of data/ recorded in data.dvc, sha256 of data.dvc); empty strings when untracked."""
    dvc_file = root / DATA_DVC
    if not dvc_file.is_file():
        return "", ""
    content = dvc_file.read_bytes()
    outs = (yaml.safe_load(content) or {}).get("outs") or [{}]
    return str(outs[0].get("md5", "")), hashlib.sha256(content).hexdigest()


def restore_file(root: Path, version: str, relpath: str) -> bool:
    """Copy data/<relpath> back from the DVC cache as it was in `version`.

    Returns False when the cache does not hold that version or that file.
    """
    with _quiet():
        repo = _repo(root)
        try:
            cache = repo.cache.local  # honours a configured cache.dir
            listing = Path(cache.oid_to_path(version))
            if not version.endswith(".dir") or not listing.is_file():
                return False
            entries = {entry["relpath"]: entry["md5"] for entry in json.loads(listing.read_text())}
            md5 = entries.get(relpath)
            stored = Path(cache.oid_to_path(md5)) if md5 else None
        finally:
            repo.close()
    if stored is None or not stored.is_file():
        return False
    target = root / DATA_DIR / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stored, target)
    return True


def status_clean(root: Path) -> bool:
    """True when data/ matches data.dvc (what `dvc status` calls up to date)."""
    with _quiet():
        repo = _repo(root)
        try:
            return not repo.status()
        except Exception as exc:  # DVC raises many types; the message is what matters
            raise RegistryError(f"dvc status failed: {exc}") from None
        finally:
            repo.close()
