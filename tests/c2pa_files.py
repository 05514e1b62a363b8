"""Signed images made the way an attacker, a camera or another tool would: straight through
the provenance API, with whatever facts and rights they like."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from provenance.keys import SigningCredentials
from provenance.rights import TRAINING_MINING_LABEL
from provenance.signing import SignRequest, sign_image, signer_from_credentials
from tests.conftest import synthetic_image


def plain_png(path: Path, seed: int = 7, size: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(synthetic_image(seed, size=size)).save(path)
    return path


def bomb_png(path: Path, side: int = 60000) -> Path:
    """A small PNG whose header claims side x side pixels (a decompression bomb)."""
    plain_png(path, size=20)
    data = bytearray(path.read_bytes())
    data[16:24] = side.to_bytes(4, "big") * 2  # IHDR's width and height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # and its CRC
    path.write_bytes(bytes(data))
    return path


def signed_png(
    path: Path,
    credentials: SigningCredentials,
    facts: dict[str, Any] | None = None,
    mining_entries: dict[str, dict] | None = None,
    seed: int = 7,
) -> Path:
    """A PNG signed with `credentials`, carrying `facts` and, if given, these training-mining entries."""
    source = plain_png(path.with_name(path.stem + "-unsigned.png"), seed)
    request = SignRequest(
        source=source,
        dest=path,
        ingredient=source,
        software={"name": "some camera app", "version": "1"},
        parameters={},
        facts=facts or {"note": "made outside provenoise"},
    )
    if mining_entries is not None:
        request.training_mining = {"label": TRAINING_MINING_LABEL, "data": {"entries": mining_entries}}
    sign_image(request, signer_from_credentials(credentials))
    source.unlink()
    return path


def flip_byte_after(path: Path, marker: bytes, offset: int, out: Path) -> Path:
    """A copy of `path` with one bit flipped `offset` bytes after `marker` (tampering)."""
    data = bytearray(path.read_bytes())
    data[data.index(marker) + offset] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def _chunks(path: Path) -> list[tuple[bytes, bytes]]:
    data, position, chunks = path.read_bytes(), 8, []
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunks.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def _write_chunks(chunks: list[tuple[bytes, bytes]], out: Path) -> Path:
    """A valid PNG again: every chunk with its length and CRC recomputed."""
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        parts.append(len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big"))
    out.write_bytes(b"".join(parts))
    return out


def repaint_pixel(path: Path, out: Path) -> Path:
    """A copy of a PNG with one pixel changed and every other chunk (the manifest too) kept:
    the image still decodes, but it is no longer what was signed."""
    chunks = _chunks(path)
    pixels = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    pixels[1] ^= 0x10  # the first pixel of the first row (byte 0 is the row's filter type)
    first = next(index for index, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    kept = [chunk for chunk in chunks if chunk[0] != b"IDAT"]
    kept.insert(first, (b"IDAT", zlib.compress(bytes(pixels))))
    return _write_chunks(kept, out)


def edit_manifest(path: Path, out: Path, old: bytes, new: bytes) -> Path:
    """A copy of a PNG whose embedded C2PA manifest (caBX chunk) has `old` replaced by `new`
    (same length): the file still decodes, the manifest no longer matches its signature."""
    assert len(old) == len(new)
    return rewrite_manifest_store(path, out, lambda store: store.replace(old, new))


def rewrite_manifest_store(path: Path, out: Path, change: Callable[[bytes], bytes]) -> Path:
    """A copy of a PNG whose embedded C2PA manifest store (caBX chunk) is `change(store)`,
    every chunk's CRC recomputed: a valid PNG carrying whatever store an attacker wrote."""
    chunks = [(kind, change(body) if kind == b"caBX" else body) for kind, body in _chunks(path)]
    return _write_chunks(chunks, out)


def signed_png_with_tsa(path: Path, credentials: SigningCredentials, tsa_url: str) -> Path:
    """A PNG signed with an RFC 3161 time-stamp from `tsa_url`."""
    source = plain_png(path.with_name(path.stem + "-unsigned.png"))
    request = SignRequest(source, path, source, {"name": "t", "version": "1"}, {}, {"note": "stamped"})
    sign_image(request, signer_from_credentials(credentials, tsa_url))
    return path
