"""Signing and verification cost, and what signing adds to `registry denoise`.

Usage, from the checkout: python -m bench.provenance [--repeats 5]
Signs 256x256, 512x512 and 2048x2048 outputs (with and without a thumbnail), verifies
them, and measures the size each manifest adds; then times denoising a 512x512 image
with the quickstart-sized network with and without signing (median of the repeats) and
reports signing's share. Prints a table and writes bench/results/provenance.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.common import markdown_table, write_result
from denoiser.config import config_from_dict
from denoiser.determinism import configure
from denoiser.inference import denoise
from denoiser.networks import build_network
from provenance.keys import create_development_keys
from provenance.signing import SignRequest, sign_image, signer_from_credentials
from provenance.verification import verify_image
from registry.denoising import write_image

SIZES = (256, 512, 2048)


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def request(folder: Path, size: int, thumbnail: bool) -> SignRequest:
    rng = np.random.default_rng(size)
    noisy, output = folder / f"noisy-{size}.png", folder / f"out-{size}-{thumbnail}.png"
    Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).save(noisy)
    write_image(rng.random((size, size)), output, 8)
    facts = {"run_id": "bench", "checkpoint_sha256": "0" * 64, "input_sha256": "1" * 64, "training_data": {}}
    return SignRequest(
        output, output, noisy, {"name": "provenoise", "version": "bench"}, {"sigma": 25}, facts, "notAllowed", thumbnail
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
        for size in SIZES:
            for thumbnail in (False, True):
                req = request(folder, size, thumbnail)
                unsigned = req.source.read_bytes()

                def sign_once(req=req, unsigned=unsigned) -> None:
                    req.source.write_bytes(unsigned)  # sign the same unsigned file each time
                    sign_image(req, signer)

                sign = median_ms(sign_once, args.repeats)
                overhead = req.dest.stat().st_size - len(unsigned)
                check = median_ms(lambda req=req: verify_image(req.dest, [credentials.ca_pem]), args.repeats)
                assert verify_image(req.dest, [credentials.ca_pem]).ok
                key = f"{size}x{size}{' +thumbnail' if thumbnail else ''}"
                results[key] = {
                    "sign_ms": sign,
                    "verify_ms": check,
                    "overhead_bytes": overhead,
                    "unsigned_bytes": len(unsigned),
                }
                rows.append([key, sign, check, overhead, f"{100 * overhead / len(unsigned):.2f}%"])

        configure(0, 2)
        network = build_network(config_from_dict({}).model).eval()  # the quickstart network's size
        req = request(folder, 512, False)
        noisy = np.asarray(Image.open(req.ingredient), dtype=np.float32) / 255

        def denoise_only() -> None:
            write_image(denoise(network, noisy, 25.0), req.source, 8)

        def denoise_and_sign() -> None:
            denoise_only()
            sign_image(req, signer)

        plain = median_ms(denoise_only, args.repeats)
        signed = median_ms(denoise_and_sign, args.repeats)
        results["denoise_512"] = {"unsigned_ms": plain, "signed_ms": signed, "signing_share": (signed - plain) / plain}
    print("Signing and verification, median of", args.repeats, "(ms); size the manifest adds (bytes)")
    print(markdown_table(["output", "sign ms", "verify ms", "added bytes", "added %"], rows))
    share = results["denoise_512"]["signing_share"]
    print(
        f"\nregistry denoise at 512x512 ({torch.get_num_threads()} threads): {plain:.1f} ms unsigned, "
        f"{signed:.1f} ms signed: signing adds {100 * share:.1f}% (target: at most 5%)"
    )
    print(f"\nwrote {write_result('provenance', results)}")


if __name__ == "__main__":
    main()
