"""Colour data and colour training (issue 11, capabilities 1 and 2): datasets keep their
channels, a 3-channel run trains, evaluates on RGB and audits IDENTICAL, gray images are
refused for it, and every 1-channel config keeps its recorded hash."""

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from audits.audit import audit_run
from denoiser import cost
from denoiser.config import ConfigError, ExperimentConfig, config_from_dict, load_config
from denoiser.images import ChannelError, load_gray, load_image
from denoiser.inference import denoise, estimate_sigma
from denoiser.metrics import psnr, quantize, ssim
from denoiser.networks import build_network
from denoiser.noise import add_awgn
from denoiser.patches import sample_batch
from registry.datasets import add_dataset, show_dataset
from registry.models import Metric, Run
from registry.reports.grids import image_grids
from registry.tracking import train_run
from registry.workspace import init_workspace
from tests.conftest import TINY_CONFIG, cli, synthetic_image, write_dataset
from tests.test_cli import assert_one_line_error
from tests.test_real_noise import write_pairs

ROOT = Path(__file__).resolve().parents[1]
COLOR_CONFIG = TINY_CONFIG.replace("datasets: [tiny]", "datasets: [rgb]\n  color_jitter: 0.05").replace(
    "model: {depth: 3,", "model: {channels: 3, depth: 3,"
)


def color_image(seed: int, size: int = 32) -> np.ndarray:
    """(size, size, 3) uint8: each channel its own synthetic picture, so the channels differ."""
    return np.stack([synthetic_image(seed * 3 + channel, size) for channel in range(3)], axis=-1)


def write_color_dataset(folder: Path, count: int = 6) -> Path:
    """RGB PNGs (one RGBA) plus a MANIFEST.csv, like conftest's write_dataset for gray."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        image_id = f"rgb{index:02d}"
        pixels = color_image(index)
        image = Image.fromarray(pixels)
        if index == 0:  # an alpha channel, dropped for training
            image = Image.fromarray(np.dstack([pixels, np.full(pixels.shape[:2], 128, np.uint8)]), "RGBA")
        image.save(folder / f"{image_id}.png")
        rows.append({"image_id": image_id, "file": f"{image_id}.png", "license": "CC0-1.0", "consent": "granted"})
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture
def color_workspace(tmp_path, monkeypatch):
    """A SQLite workspace with the gray dataset `tiny` and the colour dataset `rgb`."""
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    workspace, _ = init_workspace(tmp_path / "ws", None)
    add_dataset(workspace, write_dataset(tmp_path / "gray"), "tiny")
    add_dataset(workspace, write_color_dataset(tmp_path / "rgb"), "rgb")
    monkeypatch.chdir(workspace.root)
    (tmp_path / "color.yaml").write_text(COLOR_CONFIG)
    return workspace


# --- loading ---------------------------------------------------------------------------


def test_one_channel_loading_is_exactly_todays_gray(tmp_path):
    pixels = color_image(1)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    Image.fromarray(pixels[..., 0]).save(tmp_path / "gray.png")
    Image.fromarray(pixels[..., 0].astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    for name in ("rgb.png", "gray.png", "sixteen.png"):
        np.testing.assert_array_equal(load_image(tmp_path / name, 1), load_gray(tmp_path / name))
    luma = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32) / np.float32(255)
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png", 1), luma)


def test_three_channel_loading_keeps_rgb_drops_alpha_and_expands_palettes(tmp_path):
    pixels = color_image(2)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([pixels, np.zeros(pixels.shape[:2], np.uint8)]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(pixels).quantize(16).save(tmp_path / "palette.png")
    expected = pixels.astype(np.float32) / np.float32(255)
    rgb = load_image(tmp_path / "rgb.png", 3)
    assert rgb.dtype == np.float32 and rgb.shape == (32, 32, 3)
    np.testing.assert_array_equal(rgb, expected)
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png", 3), expected)
    palette = load_image(tmp_path / "palette.png", 3)
    assert palette.shape == (32, 32, 3)
    expanded = np.asarray(Image.open(tmp_path / "palette.png").convert("RGB"), dtype=np.float32) / np.float32(255)
    np.testing.assert_array_equal(palette, expanded)


def test_a_gray_image_asked_for_three_channels_is_an_error(tmp_path):
    Image.fromarray(synthetic_image(0)).save(tmp_path / "gray.png")
    with pytest.raises(ChannelError, match=r"gray\.png is a gray image \(mode L\)"):
        load_image(tmp_path / "gray.png", 3)


# --- datasets --------------------------------------------------------------------------


def test_a_colour_dataset_keeps_its_files_modes_and_hashes(color_workspace, tmp_path):
    dataset = show_dataset(color_workspace, "rgb")
    modes = {i.image_id: i.mode for i in dataset.images}
    assert modes == {f"rgb{n:02d}": "RGBA" if n == 0 else "RGB" for n in range(6)}
    for image in dataset.images:
        source = tmp_path / "rgb" / f"{image.image_id}.png"
        stored = color_workspace.resolve(image.path)
        assert stored.read_bytes() == source.read_bytes()
        assert image.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        # the luma rule is recorded as what 1-channel models see, not what the image became
        assert image.conversion.startswith("1-channel models:") and "ITU-R 601-2" in image.conversion
        assert ("alpha dropped" if image.mode == "RGBA" else "8-bit RGB as is") in image.conversion
    assert all(i.conversion == "" for i in show_dataset(color_workspace, "tiny").images)


# --- config ----------------------------------------------------------------------------


def test_one_channel_configs_keep_their_recorded_hash():
    for path in (ROOT / "configs" / "quickstart.yaml", ROOT / "configs" / "reference.yaml"):
        recorded = load_config(path).to_dict()
        assert "channels" not in recorded["model"] and "color_jitter" not in recorded["data"]
    run = json.loads((ROOT / "models" / "reference" / "run.json").read_text())
    assert config_from_dict(run["config"]).digest() == run["config_hash"]


def test_colour_fields_are_recorded_when_set_and_jitter_is_refused_for_gray():
    config = config_from_dict({"model": {"channels": 3}, "data": {"color_jitter": 0.1}})
    recorded = config.to_dict()
    assert recorded["model"]["channels"] == 3 and recorded["data"]["color_jitter"] == 0.1
    assert config.digest() != ExperimentConfig().digest()
    with pytest.raises(ConfigError, match="data.color_jitter: needs colour images"):
        config_from_dict({"data": {"color_jitter": 0.1}})
    with pytest.raises(ConfigError, match="data.color_jitter: must be between 0"):
        config_from_dict({"model": {"channels": 3}, "data": {"color_jitter": -0.1}})


# --- training pieces -------------------------------------------------------------------


def test_colour_batches_are_channel_first_jittered_and_seeded():
    config = config_from_dict({"model": {"channels": 3}, "data": {"patch_size": 16}})
    images = [color_image(n).astype(np.float32) / 255 for n in range(3)]
    plain = sample_batch(images, config.data, config.noise, 4, seed=0, step=0)
    assert plain.clean.shape == plain.noisy.shape == (4, 3, 16, 16)
    noise = (plain.noisy - plain.clean).numpy()
    assert not np.allclose(noise[:, 0], noise[:, 1])  # drawn per channel, not shared
    config.data.color_jitter = 0.2
    jittered = sample_batch(images, config.data, config.noise, 4, seed=0, step=0)
    again = sample_batch(images, config.data, config.noise, 4, seed=0, step=0)
    assert not np.allclose(jittered.clean.numpy(), plain.clean.numpy())
    assert np.array_equal(jittered.clean.numpy(), again.clean.numpy())
    assert np.array_equal(jittered.noisy.numpy(), again.noisy.numpy())
    assert 0 <= jittered.clean.min() and jittered.clean.max() <= 1


def test_rgb_metrics_follow_the_colour_protocol():
    rng = np.random.default_rng(0)
    clean = color_image(3).astype(np.float64) / 255
    estimate = clean + rng.normal(0, 0.05, clean.shape)
    mse = np.mean((clean - quantize(estimate)) ** 2)
    assert psnr(clean, estimate) == pytest.approx(10 * np.log10(1 / mse))
    per_channel = [ssim(clean[..., c], estimate[..., c]) for c in range(3)]
    assert ssim(clean, estimate) == pytest.approx(np.mean(per_channel))
    direct = structural_similarity(
        clean, quantize(estimate), data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        channel_axis=-1,
    )  # fmt: skip
    assert ssim(clean, estimate) == pytest.approx(direct)


def test_colour_inference_and_cost_count_the_channels():
    gray, rgb = (build_network(config_from_dict({"model": {"channels": c, "base_channels": 4}}).model) for c in (1, 3))
    noisy = color_image(4).astype(np.float32) / 255
    assert denoise(rgb, noisy, 25).shape == (32, 32, 3)
    assert cost.flops(rgb, 32, 32) > cost.flops(gray, 32, 32)
    with pytest.raises(ValueError, match="takes 1-channel images, this one has 3"):
        denoise(gray, noisy, 25)


def test_blind_estimates_on_colour_give_one_sigma_for_all_channels():
    clean = color_image(5, size=64).astype(np.float32) / 255
    noisy = add_awgn(clean, 20.0, np.random.default_rng(0))
    for estimator in ("pca", "mad"):
        assert estimate_sigma(noisy, estimator) == pytest.approx(20.0, abs=4.0)


# --- end to end ------------------------------------------------------------------------


def test_a_tiny_colour_run_trains_evaluates_on_rgb_and_audits_identical(color_workspace, tmp_path, capsys):
    run_id = train_run(color_workspace, tmp_path / "color.yaml")
    with color_workspace.store().reader() as session:
        run = session.get(Run, run_id)
        assert run.status == "finished" and run.config["model"]["channels"] == 3
        metrics = session.query(Metric).filter(Metric.run_id == run_id, Metric.method == "model").all()
        assert {m.metric for m in metrics} >= {"psnr", "ssim"}
        assert all(np.isfinite(m.value) for m in metrics)
    result = audit_run(color_workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason
    # its report draws colour grids, recomputed to the recorded PSNR
    with color_workspace.store().reader() as session:
        run = session.get(Run, run_id)
        grids = image_grids(color_workspace, run, metrics[0].sigma)
    assert grids and all(g.recomputed_psnr == pytest.approx(g.recorded_psnr, abs=1e-6) for g in grids)
    for png in [g.png for g in grids] + [g.crops_png for g in grids if g.crops_png]:
        with Image.open(io.BytesIO(png)) as drawn:
            assert drawn.mode == "RGB"
    assert cli(capsys, "report", run_id, "--out", tmp_path / "colour.html")[0] == 0
    assert "<td>RGB (" in (tmp_path / "colour.html").read_text()  # the channels of the data it trained on
    assert cli(capsys, "export", run_id, "--out", tmp_path / "model", "--no-sign")[0] == 0
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "Colour (RGB) image denoiser" in card and "come back gray" in card and "on colour images" in card
    # a colour model is not scored on a gray dataset: one line, exit 2
    assert_one_line_error(*cli(capsys, "eval", run_id, "--dataset", "tiny"), "image tiny/img")
    # real colour noise, blind: one sigma estimated per image, the files' own PSNR beside
    add_dataset(color_workspace, write_pairs(tmp_path / "pairs", picture=color_image), "pairs")
    code, out, err = cli(capsys, "eval", run_id, "--dataset", "pairs", "--json")
    assert code == 0, err
    table1 = json.loads(out)["evaluations"][0]["table1"]
    assert {row["Sigma"] for row in table1} == {"real noise (blind)"} and len(table1) == 3
    clean, noisy = (load_image(tmp_path / "pairs" / kind / "pair0.png", 3) for kind in ("clean", "noisy"))
    assert table1[0]["Image_ID"] == "pairs/pair0" and table1[0]["Noisy_PSNR"] == pytest.approx(psnr(clean, noisy))


def test_a_bf16_run_with_weight_averaging_records_both_and_audits_identical(color_workspace, tmp_path):
    # The colour reference trains under bf16 autocast: its audit must re-execute to the same bytes.
    run_id = train_run(color_workspace, tmp_path / "color.yaml", ["train.precision=bf16", "train.ema=0.9"])
    with color_workspace.store().reader() as session:
        recorded = session.get(Run, run_id).config["train"]
    assert recorded["precision"] == "bf16" and recorded["ema"] == 0.9
    result = audit_run(color_workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason


def test_a_colour_config_on_gray_images_is_refused_before_anything_is_recorded(color_workspace, tmp_path, capsys):
    config = tmp_path / "gray-data.yaml"
    config.write_text(COLOR_CONFIG.replace("datasets: [rgb]", "datasets: [tiny]"))
    assert_one_line_error(*cli(capsys, "train", config), "model.channels is 3 (RGB) but image tiny/img")
    with color_workspace.store().reader() as session:
        assert session.query(Run).count() == 0


def test_colour_grid_pieces_keep_the_layout_and_find_the_worst_region():
    from registry.reports.grids import _enlarged, _error_map, _like, _worst_region

    clean = np.round(np.random.default_rng(0).uniform(0.2, 0.8, (40, 50, 3)) * 255) / 255  # on the 8-bit grid
    estimate = clean.copy()
    estimate[30:38, 34:42, 1] += 0.3  # one channel wrong in one place
    error = _error_map(clean, estimate)
    assert error.shape == (40, 50) and error[32, 36] == 1.0 and error[5, 5] == 0.0
    top, left = _worst_region(error, 16)
    assert top <= 30 and top + 16 >= 38 and left <= 34 and left + 16 >= 42
    assert _like(error, clean).shape == (40, 50, 3) and _enlarged(clean, 3).shape == (120, 150, 3)


def test_registry_noise_keeps_colour_and_draws_each_channel(tmp_path, capsys):
    flat = np.full((64, 64, 3), 128, np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    Image.fromarray(flat[..., 0]).save(tmp_path / "gray.png")
    for name in ("flat.png", "gray.png"):
        code, _, err = cli(capsys, "noise", tmp_path / name, "--level", 25, "--out", tmp_path / "noisy")
        assert code == 0, err
    with Image.open(tmp_path / "noisy" / "flat.png") as colour, Image.open(tmp_path / "noisy" / "gray.png") as gray:
        assert colour.mode == "RGB" and gray.mode == "L"
        noise = np.asarray(colour, dtype=np.float64) - 128
    assert np.std(noise, axis=(0, 1)) == pytest.approx([25, 25, 25], rel=0.1)
    assert abs(np.corrcoef(noise[..., 0].ravel(), noise[..., 1].ravel())[0, 1]) < 0.1  # drawn independently
