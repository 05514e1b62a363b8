"""Signing and verification cost, and what signing adds to `registry denoise`.

Usage, from the checkout: python -m bench.provenance [--repeats 5]
Signs 256x256, 512x512 and 2048x2048 outputs (with and without a thumbnail), verifies
them, and measures the size each manifest adds; signs and verifies a 512x512 output with
an RFC 3161 time-stamp from a local `openssl ts` authority (tests/tsa.py; its round trip
is part of the time); signs and verifies the committed reference model folder (OpenSSF
model signing over 8 MB of weights); then times denoising a 512x512 image with the
quickstart-sized network with and without signing, the signed path including the checks
`registry denoise` now makes (the input's own manifest, trust anchors in the builder),
median of the repeats, and reports signing's share. Prints tables and writes
bench/results/provenance.json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.common import ROOT, markdown_table, median_seconds, write_result
from denoiser.config import config_from_dict
from denoiser.determinism import configure
from denoiser.inference import denoise
from denoiser.networks import build_network
from provenance.anchors import anchors_from_pem
from provenance.keys import create_development_keys
from provenance.model_signatures import sign_folder, verify_folder
from provenance.signing import SignRequest, sign_image, signer_from_credentials
from provenance.verification import verify_image
from registry.denoising import write_image
from registry.output_facts import check_input
from tests.tsa import running_authority

SIZES = (256, 512, 2048)


def median_ms(function, repeats: int) -> float:
    return 1000 * median_seconds(function, repeats)


def request(folder: Path, size: int, thumbnail: bool) -> SignRequest:
    rng = np.random.default_rng(size)
    noisy, output = folder / f"noisy-{size}.png", folder / f"out-{size}-{thumbnail}.png"
    Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).save(noisy)
    write_image(rng.random((size, size)), output, 8)
    facts = {"run_id": "bench", "checkpoint_sha256": "0" * 64, "input_sha256": "1" * 64, "training_data": {}}
    return SignRequest(
        output, output, noisy, {"name": "provenoise", "version": "bench"}, {"sigma": 25}, facts, thumbnail=thumbnail
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        credentials = create_development_keys(folder / "keys")
        signer = signer_from_credentials(credentials)
        anchors = anchors_from_pem(credentials.ca_pem, "bench CA")
        for size in SIZES:
            for thumbnail in (False, True):
                req = request(folder, size, thumbnail)
                unsigned = req.source.read_bytes()

                def sign_once(req=req, unsigned=unsigned) -> None:
                    req.source.write_bytes(unsigned)  # sign the same unsigned file each time
                    sign_image(req, signer)

                sign = median_ms(sign_once, args.repeats)
                overhead = req.dest.stat().st_size - len(unsigned)
                check = median_ms(lambda req=req: verify_image(req.dest, anchors), args.repeats)
                assert verify_image(req.dest, anchors).ok
                key = f"{size}x{size}{' +thumbnail' if thumbnail else ''}"
                results[key] = {
                    "sign_ms": sign,
                    "verify_ms": check,
                    "overhead_bytes": overhead,
                    "unsigned_bytes": len(unsigned),
                }
                rows.append([key, sign, check, overhead, f"{100 * overhead / len(unsigned):.2f}%"])

        results["time_stamped_512"] = time_stamped(folder, credentials, anchors, args.repeats)
        results["model_folder"] = model_folder(folder, credentials, anchors, args.repeats)

        configure(0, 2)
        network = build_network(config_from_dict({}).model).eval()  # the quickstart network's size
        req = request(folder, 512, False)
        req.trust_anchors = anchors
        noisy = np.asarray(Image.open(req.ingredient), dtype=np.float32) / 255

        def denoise_only() -> None:
            write_image(denoise(network, noisy, 25.0), req.source, 8)

        def denoise_and_sign() -> None:
            check_input(req.ingredient, anchors, None)
            denoise_only()
            sign_image(req, signer)

        plain = median_ms(denoise_only, args.repeats)
        signed = median_ms(denoise_and_sign, args.repeats)
        results["denoise_512"] = {"unsigned_ms": plain, "signed_ms": signed, "signing_share": (signed - plain) / plain}
    stamped, model = results["time_stamped_512"], results["model_folder"]
    rows.append(["512x512 +time-stamp", stamped["sign_ms"], stamped["verify_ms"], stamped["overhead_bytes"], ""])
    print("Signing and verification, median of", args.repeats, "(ms); size the manifest adds (bytes)")
    print(markdown_table(["output", "sign ms", "verify ms", "added bytes", "added %"], rows))
    print(
        f"\nmodel folder ({model['bytes'] / 1e6:.1f} MB, models/reference): sign {model['sign_ms']:.1f} ms, "
        f"verify {model['verify_ms']:.1f} ms (median); first use imports model-signing: {model['import_ms']:.0f} ms"
    )
    share = results["denoise_512"]["signing_share"]
    print(
        f"\nregistry denoise at 512x512 ({torch.get_num_threads()} threads): {plain:.1f} ms unsigned, "
        f"{signed:.1f} ms signed: signing adds {100 * share:.1f}% (target: at most 5%)"
    )
    print(f"\nwrote {write_result('provenance', results)}")


def time_stamped(folder: Path, credentials, anchors, repeats: int) -> dict:
    """Sign and verify a 512x512 output with a time-stamp from a local authority."""
    with running_authority(folder / "tsa") as authority:
        signer = signer_from_credentials(credentials, authority.url)
        both = anchors + anchors_from_pem(authority.ca_pem.read_bytes(), "bench TSA")
        req = request(folder, 512, False)
        unsigned = req.source.read_bytes()

        def sign_once() -> None:
            req.source.write_bytes(unsigned)
            sign_image(req, signer)

        sign = median_ms(sign_once, repeats)
        check = median_ms(lambda: verify_image(req.dest, both), repeats)
        verification = verify_image(req.dest, both)
        assert verification.ok and verification.time_stamp == "trusted"
        return {"sign_ms": sign, "verify_ms": check, "overhead_bytes": req.dest.stat().st_size - len(unsigned)}


def model_folder(folder: Path, credentials, anchors, repeats: int) -> dict:
    """Sign and verify a copy of the committed reference model folder."""
    copy = Path(shutil.copytree(ROOT / "models" / "reference", folder / "reference"))
    (copy / "model.sig").unlink()
    started = time.perf_counter()
    import model_signing  # noqa: F401  (what the first signature check of a process pays)

    imported = 1000 * (time.perf_counter() - started)
    sign = median_ms(lambda: sign_folder(copy, credentials), repeats)
    check = median_ms(lambda: verify_folder(copy, anchors), repeats)
    assert verify_folder(copy, anchors).ok
    size = sum(path.stat().st_size for path in copy.iterdir())
    return {"sign_ms": sign, "verify_ms": check, "import_ms": imported, "bytes": size}


if __name__ == "__main__":
    main()
