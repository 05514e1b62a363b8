"""Signing a denoised image with a C2PA manifest.

The manifest follows the C2PA specification's structures so any C2PA reader can check
it: a `c2pa.actions.v2` assertion whose first action is `c2pa.opened` on the noisy input
(a `parentOf` ingredient; an input that carries its own manifest keeps it), then
`c2pa.filtered` with the software agent, its parameters and IPTC's digital source type;
a `cawg.training-mining` assertion, entry by entry (provenance.rights); and provenoise's
own assertion (run, checkpoint, input and output hashes, training data, licences,
consent, audit), under a reverse-domain label. The builder is given the caller's trust
anchors, so an input signed under them is recorded as trusted; with a time-stamp
authority the signature carries an RFC 3161 time-stamp and outlives its certificate.
"""

from __future__ import annotations

import functools
import importlib
import mimetypes
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from provenance.anchors import Anchor, pem_bundle
from provenance.keys import SigningCredentials
from provenance.rights import NOT_ALLOWED, assertion, decide, everywhere

LINEAGE_LABEL = "org.provenoise.lineage"
INPUT_LABEL = "noisy-input"
# IPTC's term for an image a model enhanced (denoised) without generating its content.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced"
CALLBACK_ENV = "PROVENOISE_SIGNER_CALLBACK"  # "module:function", function(bytes) -> ES256 signature bytes


class SigningError(RuntimeError):
    """The file could not be signed (unsupported format, unusable credentials...)."""


@dataclass
class SignRequest:
    source: Path  # the unsigned output
    dest: Path  # the signed output's name (its manifest's title and format)
    ingredient: Path  # the noisy input it was made from
    software: dict[str, str]  # {"name": ..., "version": ...}
    parameters: dict[str, Any]  # what the filter action was given (sigma, steps...)
    facts: dict[str, Any]  # provenoise's lineage assertion
    # The cawg.training-mining assertion (provenance.rights.assertion); notAllowed everywhere by default.
    training_mining: dict[str, Any] = field(
        default_factory=lambda: assertion(decide([everywhere("default", NOT_ALLOWED)]))
    )
    thumbnail: bool = False
    trust_anchors: list[Anchor] = field(default_factory=list)  # for validating the input's own manifest
    extra_assertions: list[dict] = field(default_factory=list)
    write_to: Path | None = None  # where the signed bytes go, when not `dest` (a staging file beside it)


def media_type(path: Path) -> str:
    """The media type of an output we write, from its name (PNG, JPEG or TIFF)."""
    kind = mimetypes.guess_type(str(path))[0]
    if kind not in ("image/png", "image/jpeg", "image/tiff"):
        raise SigningError(f"{path.name}: not a format C2PA manifests are handled in here (PNG, JPEG, TIFF)")
    return kind


@functools.cache
def _c2pa_media_types() -> frozenset[str]:
    return frozenset(kind for kind in c2pa.Reader.get_supported_mime_types() if "/" in kind)


# Leading bytes of the image formats C2PA embeds manifests in. Sniffing, not decoding: a file
# whose manifest was damaged may no longer decode, and must still be read (and fail) as signed.
_MAGIC = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"GIF8", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (0, b"\xff\x0a", "image/jxl"),
    (4, b"JXL ", "image/jxl"),
)
_ISO_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
}


def content_media_type(path: Path) -> str | None:
    """What the file is (from its bytes, never its name), when that format can carry a C2PA manifest.

    A signed PNG renamed `photo.bin` is still a signed PNG: judging by the name would let a
    tampered input pass as one that has no manifest at all.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    kind = next((kind for offset, magic, kind in _MAGIC if head[offset : offset + len(magic)] == magic), None)
    if kind is None and head[4:8] == b"ftyp":
        kind = _ISO_BRANDS.get(head[8:12])
    return kind if kind in _c2pa_media_types() else None


def signer_from_credentials(credentials: SigningCredentials, tsa_url: str | None = None) -> c2pa.Signer:
    """A signer; with `tsa_url`, every signature gets an RFC 3161 time-stamp from that authority."""
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, credentials.chain_pem, credentials.key_pem, tsa_url or None)
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise SigningError(f"unusable signing credentials from {credentials.origin}: {exc}") from None


def signer_from_callback(sign: Callable[[bytes], bytes], chain_pem: bytes, tsa_url: str | None = None) -> c2pa.Signer:
    """A signer whose private key stays elsewhere (HSM, KMS): `sign` returns an ES256 signature."""
    return c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ES256, chain_pem.decode(), tsa_url)


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
                            "digitalSourceType": DIGITAL_SOURCE_TYPE,
                            "description": "denoised",
                            "parameters": request.parameters,
                        },
                    ]
                },
            },
            request.training_mining,
            {"label": LINEAGE_LABEL, "data": request.facts},
            *request.extra_assertions,
        ],
    }


def sign_image(request: SignRequest, signer: c2pa.Signer) -> int:
    """Embed a signed manifest; returns the manifest's size in bytes."""
    kind = media_type(request.source)
    ingredient_kind = content_media_type(request.ingredient) or "application/octet-stream"
    settings: dict[str, Any] = {"builder": {"thumbnail": {"enabled": request.thumbnail}}}
    if request.trust_anchors:
        settings["trust"] = {"user_anchors": pem_bundle(request.trust_anchors)}
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
        written = request.write_to or request.dest
        handle, name = tempfile.mkstemp(dir=written.parent, suffix=written.suffix)
        temporary = Path(name)
        with open(request.source, "rb") as source, os.fdopen(handle, "w+b") as destination:
            manifest = builder.sign(signer, kind, source, destination)
        os.replace(temporary, written)
        temporary = None
    except c2pa.C2paError as exc:
        # c2pa puts the actual failure on a later line; the CLI prints one line.
        raise SigningError(f"signing {request.dest} failed: {' '.join(str(exc).split())}") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    return len(manifest)
