"""Signing a denoised image with a C2PA manifest.

The manifest follows the C2PA specification's structures so any C2PA reader can check
it: a `c2pa.actions.v2` assertion whose first action is `c2pa.opened` on the noisy input
(a `parentOf` ingredient; an input that carries its own manifest keeps it), then
`c2pa.filtered` with the software agent and its parameters; a `cawg.training-mining`
assertion; and provenoise's own assertion (run, checkpoint, input and output hashes,
training data, licences, consent, audit), under a reverse-domain label.
"""

from __future__ import annotations

import importlib
import mimetypes
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from provenance.keys import SigningCredentials

LINEAGE_LABEL = "org.provenoise.lineage"
TRAINING_MINING_LABEL = "cawg.training-mining"
MINING_USES = ("allowed", "notAllowed", "constrained")
MINING_ENTRIES = ("cawg.ai_generative_training", "cawg.ai_training", "cawg.ai_inference", "cawg.data_mining")
INPUT_LABEL = "noisy-input"
CALLBACK_ENV = "PROVENOISE_SIGNER_CALLBACK"  # "module:function", function(bytes) -> ES256 signature bytes


class SigningError(RuntimeError):
    """The file could not be signed (unsupported format, unusable credentials...)."""


@dataclass
class SignRequest:
    source: Path  # the unsigned output
    dest: Path  # where the signed output goes (may be the same path)
    ingredient: Path  # the noisy input it was made from
    software: dict[str, str]  # {"name": ..., "version": ...}
    parameters: dict[str, Any]  # what the filter action was given (sigma, steps...)
    facts: dict[str, Any]  # provenoise's lineage assertion
    training_mining: str = "notAllowed"
    thumbnail: bool = False
    extra_assertions: list[dict] = field(default_factory=list)


def media_type(path: Path) -> str:
    kind = mimetypes.guess_type(str(path))[0]
    if kind not in ("image/png", "image/jpeg", "image/tiff"):
        raise SigningError(f"{path.name}: not a format C2PA manifests are handled in here (PNG, JPEG, TIFF)")
    return kind


def signer_from_credentials(credentials: SigningCredentials) -> c2pa.Signer:
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, credentials.chain_pem, credentials.key_pem, None)
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise SigningError(f"unusable signing credentials from {credentials.origin}: {exc}") from None


def signer_from_callback(sign: Callable[[bytes], bytes], chain_pem: bytes) -> c2pa.Signer:
    """A signer whose private key stays elsewhere (HSM, KMS): `sign` returns an ES256 signature."""
    return c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ES256, chain_pem.decode())


def callback_from_environment() -> Callable[[bytes], bytes] | None:
    """The hook named by $PROVENOISE_SIGNER_CALLBACK ("package.module:function"), if set."""
    target = os.environ.get(CALLBACK_ENV)
    if not target:
        return None
    module, _, function = target.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SigningError(f"${CALLBACK_ENV}={target!r} does not name a callable: {exc}") from None


def training_mining_assertion(use: str) -> dict:
    if use not in MINING_USES:
        raise SigningError(f"training-mining use must be one of {', '.join(MINING_USES)}, got {use!r}")
    return {"label": TRAINING_MINING_LABEL, "data": {"entries": {entry: {"use": use} for entry in MINING_ENTRIES}}}


def manifest_definition(request: SignRequest) -> dict:
    return {
        "claim_generator_info": [request.software],
        "title": request.dest.name,
        "format": media_type(request.dest),
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "parameters": {"ingredientIds": [INPUT_LABEL]}},
                        {
                            "action": "c2pa.filtered",
                            "softwareAgent": request.software,
                            "description": "denoised",
                            "parameters": request.parameters,
                        },
                    ]
                },
            },
            training_mining_assertion(request.training_mining),
            {"label": LINEAGE_LABEL, "data": request.facts},
            *request.extra_assertions,
        ],
    }


def sign_image(request: SignRequest, signer: c2pa.Signer) -> int:
    """Embed a signed manifest; returns the manifest's size in bytes."""
    kind = media_type(request.source)
    ingredient_kind = mimetypes.guess_type(str(request.ingredient))[0] or "application/octet-stream"
    settings = {"builder": {"thumbnail": {"enabled": request.thumbnail}}}
    temporary: Path | None = None
    try:
        builder = c2pa.Builder(manifest_definition(request), c2pa.Context.from_dict(settings))
        with open(request.ingredient, "rb") as ingredient:
            builder.add_ingredient(
                {"title": request.ingredient.name, "relationship": "parentOf", "label": INPUT_LABEL},
                ingredient_kind,
                ingredient,
            )
        # Sign into a temporary file beside the destination, then move it into place.
        handle, name = tempfile.mkstemp(dir=request.dest.parent, suffix=request.dest.suffix)
        temporary = Path(name)
        with open(request.source, "rb") as source, os.fdopen(handle, "w+b") as destination:
            manifest = builder.sign(signer, kind, source, destination)
        os.replace(temporary, request.dest)
        temporary = None
    except c2pa.C2paError as exc:
        raise SigningError(f"signing {request.dest} failed: {exc}") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    return len(manifest)
