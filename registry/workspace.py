"""Workspaces: a folder with git, DVC, a registry database and the data it records.

A workspace is found the way git finds a repository, by walking up from the current
folder to the first one holding `.registry/`. Everything the registry stores is
relative to that root, so the folder can be copied or moved and still audits.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from provenance.rights import MINING_USES
from registry import dvc
from registry.db_urls import PASSWORD_ADVICE, has_password, without_password
from registry.errors import RegistryError
from registry.files import write_new
from registry.text import has_hidden_characters

if TYPE_CHECKING:  # the database layer is imported when first used: `registry --help` stays fast
    from registry.db import Store

MARKER = ".registry"
CONFIG_FILE = "config.json"
DB_ENV = "REGISTRY_DB_URL"


@dataclass
class Workspace:
    root: Path
    db_url: str
    _store: Store | None = field(default=None, repr=False, compare=False)

    @property
    def registry_dir(self) -> Path:
        return self.root / MARKER

    @property
    def data_dir(self) -> Path:
        return self.root / dvc.DATA_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.registry_dir / "checkpoints"

    def state_dir(self, run_id: str) -> Path:
        return self.registry_dir / "states" / run_id

    def store(self) -> Store:
        """The workspace's database, opened (and its schema checked) once."""
        if self._store is None:
            from registry.db import Store

            store = Store(self.db_url)
            store.check_schema()
            self._store = store
        return self._store

    def relative(self, path: Path) -> str:
        """Workspace-relative POSIX path, for storing in the registry."""
        return Path(os.path.abspath(path)).relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """Absolute path of a stored relative path; refuses paths that leave the workspace."""
        return inside(self.root, relative)


def inside(root: Path, relative: str) -> Path:
    """root/relative, refusing absolute paths and `..` escapes (also through symlinks)."""
    candidate = (root / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(root.resolve()):
        raise RegistryError(f"path {relative!r} leaves {root}")
    return candidate


def read_settings(root: Path) -> dict:
    """The workspace's own settings (database URL chosen at init, training-mining policy)."""
    config_file = root / MARKER / CONFIG_FILE
    return json.loads(config_file.read_text()) if config_file.is_file() else {}


def update_settings(root: Path, **changes: str) -> None:
    write_settings(root, read_settings(root) | changes)


def write_settings(root: Path, settings: dict) -> None:
    """config.json, private to its owner (it names the database and its user)."""
    write_new(root / MARKER / CONFIG_FILE, (json.dumps(settings, indent=2) + "\n").encode(), force=True, mode=0o600)


def _mining_policy(value: str) -> str:
    if value not in MINING_USES:
        raise RegistryError(f"training-mining must be one of {', '.join(MINING_USES)}, got {value!r}")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        raise RegistryError(f"tsa-url must be an http(s) URL, got {value!r}")
    return value


WITHDRAWN_MODEL_POLICIES = ("warn", "refuse")  # what `registry denoise` does with a model trained on withdrawn data


def _withdrawn_models(value: str) -> str:
    if value not in WITHDRAWN_MODEL_POLICIES:
        raise RegistryError(f"withdrawn-models must be one of {', '.join(WITHDRAWN_MODEL_POLICIES)}, got {value!r}")
    return value


def _withdrawals_location(value: str) -> str:
    # Recorded in exported folders, read on other machines: a relative path would mean nothing there.
    if has_hidden_characters(value) or value != value.strip():
        raise RegistryError(f"withdrawals-location must be printable text without surrounding spaces, got {value!r}")
    if value.startswith(("http://", "https://")):
        if any(c.isspace() for c in value):
            raise RegistryError(f"withdrawals-location: a URL has no spaces, got {value!r}")
        return value
    if not Path(value).is_absolute():
        raise RegistryError(f"withdrawals-location must be an absolute path or an http(s) URL, got {value!r}")
    return value


def _max_pixels(value: str) -> str:
    if not value.isdigit() or int(value) < 1:
        raise RegistryError(f"max-pixels must be a positive whole number of pixels, got {value!r}")
    return str(int(value))


# Settings `registry config set` may change: name -> (key in config.json, validator).
SETTINGS = {
    "training-mining": ("training_mining", _mining_policy),
    "tsa-url": ("tsa_url", _http_url),
    "withdrawn-models": ("withdrawn_models", _withdrawn_models),
    "withdrawals-location": ("withdrawals_location", _withdrawals_location),
    "max-pixels": ("max_pixels", _max_pixels),  # `registry denoise`'s pixel budget per photo
}


def set_setting(root: Path, name: str, value: str) -> str:
    """Validate and store one setting ('' removes it); returns what was stored."""
    if name not in SETTINGS:
        raise RegistryError(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    key, validate = SETTINGS[name]
    settings = read_settings(root)
    if value:
        settings[key] = validate(value)
    else:
        settings.pop(key, None)
    write_settings(root, settings)
    return settings.get(key, "")


def setting(root: Path, name: str) -> str | None:
    """One setting, checked as `config set` checks it: a hand-edited config.json gets no say."""
    key, validate = SETTINGS[name]
    value = read_settings(root).get(key)
    if not value:
        return None
    try:
        return validate(value)
    except RegistryError as exc:
        raise RegistryError(f"{root / MARKER / CONFIG_FILE}: {exc}") from None


def check_setting(name: str, value: str) -> str:
    """`value` if it is valid for the setting `name` (a one-line error otherwise)."""
    return SETTINGS[name][1](value)


def show_settings(root: Path) -> dict[str, str]:
    settings = read_settings(root)
    from registry.db import safe_url

    shown = {name: settings.get(key, "") for name, (key, _) in SETTINGS.items()}
    return shown | {"database": safe_url(resolve_db_url(root, None))}


def default_db_url(root: Path) -> str:
    return f"sqlite:///{root / MARKER / 'registry.db'}"


def resolve_db_url(root: Path, explicit: str | None) -> str:
    """--db, then $REGISTRY_DB_URL, then the URL chosen at init, then the SQLite default."""
    if explicit:
        return explicit
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    return read_settings(root).get("db_url") or default_db_url(root)


def find_workspace(start: Path | None = None, db_url: str | None = None) -> Workspace:
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_dir():
            return Workspace(folder, resolve_db_url(folder, db_url))
    raise RegistryError(f"not inside a registry workspace (no {MARKER}/ here or above {here}); run `registry init`")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def init_workspace(
    path: Path, db_url: str | None = None, training_mining: str | None = None
) -> tuple[Workspace, list[str]]:
    """Create or adopt a workspace at `path`; returns it and what was done.

    Git and DVC are initialised only when missing; migrations bring the database to the
    current schema. Safe to run again on an existing workspace.
    """
    if training_mining:
        check_setting("training-mining", training_mining)
    root = Path(path).resolve()
    if root.exists() and not root.is_dir():
        raise RegistryError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    done: list[str] = []

    toplevel = _git(root, "rev-parse", "--show-toplevel")
    enclosing = Path(toplevel.stdout.strip()).resolve() if toplevel.returncode == 0 else None
    # A new workspace inside another repository (a project's checkout, say) gets a repository of
    # its own: DVC would otherwise stage its files in that project's index. One made before,
    # as a DVC subdirectory of the enclosing repository, is adopted as it is.
    in_subdir = enclosing is not None and enclosing != root and (root / ".dvc").is_dir()
    if enclosing is None or (enclosing != root and not in_subdir):
        if _git(root, "init", "-q").returncode != 0:
            raise RegistryError(f"git init failed in {root}")
        done.append(
            "initialised a git repository"
            + (f" of its own (the enclosing repository {enclosing} is not touched)" if enclosing else "")
        )
    if dvc.ensure_initialized(root, subdir=in_subdir):
        done.append("initialised DVC")

    marker = root / MARKER
    marker.mkdir(exist_ok=True)
    marker.chmod(0o700)  # names, e-mail addresses and consent notes live here
    # The database, checkpoints and training states are not for git.
    (marker / ".gitignore").write_text("*\n")
    if training_mining:
        update_settings(root, training_mining=training_mining)
        done.append(f"training-mining policy for signed outputs: {training_mining}")
    from registry.db import Store, make_private_sqlite_file, migrate, safe_url
    from registry.ledger import record as ledger

    workspace = Workspace(root, resolve_db_url(root, db_url))
    make_private_sqlite_file(workspace.db_url)
    store = Store(workspace.db_url)
    try:
        migrate(store.engine)
        with store.engine.begin() as connection:
            baseline = ledger.start(connection)
    finally:
        store.close()
    if db_url:  # recorded once the database answered, and never with its password
        update_settings(root, db_url=without_password(db_url))
        if has_password(db_url):
            done.append(f"the password in --db was used for this command and not stored: {PASSWORD_ADVICE}")
    done.append(f"registry database ready ({safe_url(workspace.db_url)})")
    if baseline > 1:  # a registry older than its ledger (a new one holds only its own id)
        done.append(f"ledger started with the {baseline} existing rows as its baseline (earlier changes not covered)")
    return workspace, done
