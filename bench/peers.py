"""The DnCNN authors' published models, read from their MatConvNet files, for benchmarks only.

`../shared/baselines/dncnn/` holds them (Zhang et al., "Beyond a Gaussian Denoiser", TIP 2017):
HDF5 files (MATLAB v7.3) read with h5py, never unpickled, never copied into the project. Each
is a plain stack of 3x3 convolutions and ReLUs (batch norm already folded in). A `conv`
layer's kernel is stored by MATLAB as (H, W, in, out), which h5py reads as (out, in, W, H)
(without `out` when it is 1: MATLAB drops trailing singleton dimensions).

Every peer is wrapped to our networks' interface, `(noisy (B, C, H, W), sigma (B,)) -> clean`,
so the same evaluation, timing and FLOP counting apply to it. Needs `pip install h5py`.

Check: `python -m bench.peers` scores the gray peers on the first 8 BSD68 images at sigma 25
with 8-bit noisy PNGs; the baselines README gives DnCNN-S 28.60, FDnCNN 28.56, DnCNN-B 28.45 dB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.common import ROOT

PEERS_DIR = ROOT.parent / "shared" / "baselines" / "dncnn"


@dataclass(frozen=True)
class Peer:
    name: str
    channels: int  # 1 gray, 3 RGB
    files: dict[float | None, str]  # sigma -> file; None: one blind model for every sigma
    noise_map: bool = False  # FDnCNN: a sigma/255 map channel follows the image channels

    def file_for(self, sigma: float) -> str | None:
        """The file that denoises at `sigma`, or None when this peer has no model for it."""
        return self.files.get(None) or self.files.get(float(sigma))


PEERS = {
    peer.name: peer
    for peer in (
        Peer("DnCNN-S", 1, {15.0: "sigma_15.mat", 25.0: "sigma_25.mat", 50.0: "sigma_50.mat"}),
        Peer("DnCNN-B", 1, {None: "GD_Gray_Blind.mat"}),
        Peer("FDnCNN", 1, {None: "FDnCNN_gray.mat"}, noise_map=True),
        Peer("CDnCNN-S", 3, {15.0: "color_sigma_15.mat", 25.0: "color_sigma_25.mat", 50.0: "color_sigma_50.mat"}),
        Peer("CDnCNN-B", 3, {None: "GD_Color_Blind.mat"}),
        Peer("FDnCNN-colour", 3, {None: "FDnCNN_color.mat"}, noise_map=True),
    )
}


class PeerNetwork(nn.Module):
    """A MatConvNet DnCNN as one of our networks: DnCNN-S/B predict the noise, FDnCNN the image."""

    def __init__(self, body: nn.Sequential, noise_map: bool):
        super().__init__()
        self.body = body
        self.noise_map = noise_map

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if self.noise_map:
            level = (sigma / 255.0).view(-1, 1, 1, 1).expand(-1, 1, *noisy.shape[-2:])
            return self.body(torch.cat([noisy, level], dim=1))
        return noisy - self.body(noisy)


def _text(dataset) -> str:
    return "".join(chr(code) for code in dataset[()].flatten())


def read_network(path: Path, noise_map: bool) -> PeerNetwork:
    """Build the network stored in one MatConvNet file."""
    import h5py

    layers: list[nn.Module] = []
    with h5py.File(path, "r") as file:
        stored = file["net"]["layers"]
        for index in range(stored.shape[0]):
            layer = file[stored[index][0]]
            kind = _text(layer["type"])
            if kind == "relu":
                layers.append(nn.ReLU())
            elif kind == "conv":
                kernel_ref, bias_ref = (layer["weights"][i][0] for i in range(2))
                kernel = np.array(file[kernel_ref], dtype=np.float32)
                if kernel.ndim == 3:  # MATLAB drops a trailing 1: the last layer's single output
                    kernel = kernel[None]
                kernel = torch.from_numpy(kernel).transpose(2, 3)
                bias = torch.from_numpy(np.array(file[bias_ref], dtype=np.float32).reshape(-1))
                pad = int(np.array(layer["pad"]).flatten()[0])
                conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], kernel.shape[2:], padding=pad)
                conv.weight.data.copy_(kernel.contiguous())
                conv.bias.data.copy_(bias)
                layers.append(conv)
            elif kind != "concat":  # concat joins image and noise map: done in forward
                raise ValueError(f"{path.name}: layer {index} is a {kind!r}, which this reader does not know")
    return PeerNetwork(nn.Sequential(*layers).eval(), noise_map)


def load_peer(peer: Peer, sigma: float) -> PeerNetwork | None:
    """The peer's network for `sigma` (None when it has none, or its weights are not here)."""
    name = peer.file_for(sigma)
    if name is None or not (PEERS_DIR / name).is_file():
        return None
    return read_network(PEERS_DIR / name, peer.noise_map)


@torch.no_grad()
def run_peer(network: nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Denoise a (H, W) or (H, W, 3) float image; returns the same shape, unclipped."""
    x = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    out = network(x, torch.tensor([float(sigma)]))[0]
    return (out[0] if noisy.ndim == 2 else out.permute(1, 2, 0)).numpy()


def synthetic_cases(clean: dict, sigmas: list[float], seed: int, protocol: str) -> dict:
    """sigma -> {image key: (clean, noisy, sigma told)}, the noisy images `registry eval` draws."""
    from denoiser.evaluation import noisy_input

    return {
        sigma: {key: (image, noisy_input(image, key, sigma, seed, protocol), sigma) for key, image in clean.items()}
        for sigma in sigmas
    }


def score_peers(names: tuple[str, ...], cases: dict) -> dict:
    """(sigma, peer) -> (mean PSNR, mean SSIM) over `cases` (sigma -> {key: (clean, noisy, sigma told)}).

    A peer with no model for a sigma is told the nearest level it was trained for; a peer
    whose weights are not here is left out.
    """
    from denoiser.metrics import psnr, ssim

    scores, networks = {}, {}
    for name in names:
        for sigma, images in cases.items():
            values = []
            for clean, noisy, told in images.values():
                level = nearest_trained(PEERS[name], told)
                if (name, level) not in networks:  # read each weights file once, not once per image
                    networks[(name, level)] = load_peer(PEERS[name], level)
                network = networks[(name, level)]
                if network is None:
                    break
                estimate = run_peer(network, noisy, told)
                values.append((psnr(clean, estimate), ssim(clean, estimate)))
            if values:
                scores[(sigma, name)] = tuple(float(np.mean(column)) for column in zip(*values))
    return scores


def nearest_trained(peer: Peer, sigma: float) -> float:
    """A sigma the peer has a model for: any for blind peers, else the nearest trained level."""
    trained = [s for s in peer.files if s is not None]
    return min(trained, key=lambda s: abs(s - sigma)) if trained else sigma


@torch.no_grad()
def gflops_per_megapixel(network: nn.Module, channels: int, side: int = 256) -> float:
    """FLOPs of one forward pass per megapixel, counted on a side x side image."""
    counter = FlopCounterMode(display=False)
    with counter:
        network(torch.zeros(1, channels, side, side), torch.tensor([25.0]))
    return counter.get_total_flops() / (side * side) * 1e6 / 1e9


def main() -> None:
    from bench.common import dataset_files, markdown_table
    from denoiser.evaluation import noisy_input
    from denoiser.images import load_gray
    from denoiser.metrics import psnr

    files = dataset_files("bsd68")[:8]
    rows = []
    for name in ("DnCNN-S", "FDnCNN", "DnCNN-B"):
        network = load_peer(PEERS[name], 25.0)
        if network is None:
            raise SystemExit(f"{name}'s weights are not in {PEERS_DIR}")
        scores = []
        for path in files:
            clean = load_gray(path)
            noisy = noisy_input(clean, f"bsd68/{path.stem}", 25.0, 0, "png8")
            scores.append(psnr(clean, run_peer(network, noisy, 25.0)))  # psnr rounds to 8 bits
        rows.append([name, float(np.mean(scores)), gflops_per_megapixel(network, 1)])
    print("First 8 BSD68 images, sigma 25, 8-bit noisy PNGs, PSNR of 8-bit outputs")
    print(markdown_table(["peer", "PSNR dB", "GFLOPs/MP"], rows))


if __name__ == "__main__":
    main()
