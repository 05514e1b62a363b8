"""Exported model folders: reading one, checking its signature, signing one.

A folder holds `provenoise-model.json` (the run's record: its id, the registry it came
from, weights hash, config, training data with licences and consent, latest audit),
`model.safetensors`, `run.json`, `MODEL_CARD.md`, and `model.sig`: the OpenSSF model
signature over all of them (provenance.model_signatures). Its claims are believed only
when that signature verifies against an anchor the user trusts or the package's
publisher list. Otherwise the folder is refused, or used with --unverified-model and
its claims marked self-declared. Files are never read through a symlink.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from denoiser.config import ConfigError, config_from_dict
from provenance.anchors import Anchor
from provenance.keys import SigningCredentials
from provenance.model_signatures import (
    SIGNATURE_FILE,
    FolderVerification,
    ModelSignatureError,
    sign_folder,
    verify_folder,
)
from registry.errors import RegistryError
from registry.run_models import (
    FORMAT_VERSION,
    MODEL_FILE,
    SELF_DECLARED_CLAIMS,
    VERIFIED_CLAIMS,
    WEIGHTS_FILE,
    LoadedModel,
    load_model,
)

UNVERIFIED_OPTION = "--unverified-model"


def is_model_folder(path: Path) -> bool:
    return (path / MODEL_FILE).is_file()


def _read_bytes(folder: Path, name: str, shown: Path) -> bytes:
    path = folder / name
    if path.is_symlink():
        raise RegistryError(f"{shown / name} is a symbolic link; a model folder's files must be the files themselves")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"{shown} is not a usable model folder: {name}: {exc.strerror or exc}") from None


def read_record(folder: Path, shown: Path | None = None) -> tuple[dict[str, Any], bytes]:
    """The folder's record and weights, checked against each other (not against any signature).

    `shown` is the folder named in messages when `folder` is a private copy of it.
    """
    shown = shown or folder
    raw = _read_bytes(folder, MODEL_FILE, shown)
    try:
        meta = json.loads(raw)
        if not isinstance(meta, dict):
            raise ValueError("the record is not a JSON object")
    except ValueError as exc:
        raise RegistryError(f"{shown} is not a usable model folder: {MODEL_FILE}: {exc}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise RegistryError(f"{shown}: model format {meta.get('format_version')!r} is not supported")
    weights = _read_bytes(folder, WEIGHTS_FILE, shown)
    digest = hashlib.sha256(weights).hexdigest()
    if digest != meta.get("weights_sha256"):
        raise RegistryError(
            f"{shown / WEIGHTS_FILE}: sha256 {digest}, the model folder records {meta.get('weights_sha256')}"
        )
    return meta, weights


def check_signature(
    folder: Path, anchors: list[Anchor], allow_unverified: bool, shown: Path | None = None
) -> FolderVerification:
    """The folder's signature check; refuses a folder that fails it unless the user allowed that."""
    verification = verify_folder(folder, anchors)
    if shown is not None:  # name the user's folder, not the private copy that was checked
        verification.detail = verification.detail.replace(str(folder), str(shown))
    if not verification.ok and not allow_unverified:
        detail = f" ({verification.detail})" if verification.detail else ""
        raise RegistryError(
            f"model folder {shown or folder}: {verification.status}{detail}; its claims cannot be believed. "
            f"Trust its publisher's CA (--trust CA.pem or `registry keys trust CA.pem`), or pass "
            f"{UNVERIFIED_OPTION} to use it anyway with its claims marked self-declared"
        )
    return verification


def refuse_symlinks(folder: Path) -> None:
    """A link could point anywhere (another model's weights, a file that changes after the check)."""
    for path in sorted(folder.iterdir()):
        if path.is_symlink():
            raise RegistryError(f"{path} is a symbolic link; a model folder's files must be the files themselves")


def open_model_folder(folder: Path, anchors: list[Anchor], allow_unverified: bool = False) -> LoadedModel:
    """A model folder's network and record, with how far its claims can be believed."""
    folder = Path(folder)
    refuse_symlinks(folder)
    with tempfile.TemporaryDirectory(prefix="provenoise-model-") as private:
        # Check and load one private copy: the folder itself may change between a check and a read.
        copy = Path(shutil.copytree(folder, Path(private) / "model", symlinks=True))
        verification = check_signature(copy, anchors, allow_unverified, shown=folder)
        meta, weights = read_record(copy, shown=folder)
    if not isinstance(meta.get("config"), dict):
        raise RegistryError(f"{folder} is not a usable model folder: its record has no config mapping")
    try:
        config = config_from_dict(meta["config"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise RegistryError(f"{folder} is not a usable model folder: config: {exc}") from None
    run_id = meta.get("run_id")
    return LoadedModel(
        config,
        load_model(config, weights),
        hashlib.sha256(weights).hexdigest(),
        run_id if isinstance(run_id, str) else None,
        str(folder),
        meta,
        claims=VERIFIED_CLAIMS if verification.ok else SELF_DECLARED_CLAIMS,
        signature=verification.summary(),
    )


def sign_model_folder(folder: Path, credentials: SigningCredentials, force: bool = False) -> Path:
    """Sign an existing model folder (after checking its weights match its record)."""
    folder = Path(folder)
    if not folder.is_dir() or not is_model_folder(folder):
        raise RegistryError(f"{folder} is not an exported model folder (no {MODEL_FILE})")
    read_record(folder)
    if (folder / SIGNATURE_FILE).exists() and not force:
        raise RegistryError(f"{folder} is already signed ({SIGNATURE_FILE}); pass --force to sign it again")
    try:
        return sign_folder(folder, credentials)
    except ModelSignatureError as exc:
        raise RegistryError(str(exc)) from None
