"""`registry denoise` on the photos people have: colour and gray, luminance mode, EXIF
orientation, ICC profiles, alpha, palettes, 16-bit colour, a pixel budget, bounded memory."""

import json
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from provenance.keys import CA_CERT
from registry.photos import orient, read_photo
from registry.workspace import init_workspace
from tests.c2pa_files import bomb_png
from tests.conftest import cli
from tests.photo_models import random_model_folder

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Models:
    gray: Path  # random weights, 1 channel
    colour: Path  # random weights, 3 channels
    identity: Path  # 3 channels, returns its input exactly: shows what was read, bit for bit
    small: Path  # a 3-layer colour DnCNN: the cheapest network to run over 24 megapixels
    ca: Path  # their publisher's CA: pass with --trust


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Models:
    root = tmp_path_factory.mktemp("photo-models")
    keys = root / "keys"
    return Models(
        random_model_folder(root / "gray", keys),
        random_model_folder(root / "colour", keys, channels=3),
        random_model_folder(root / "identity", keys, identity=True, channels=3),
        random_model_folder(root / "small", keys, channels=3, name="dncnn", layers=3),
        keys / CA_CERT,
    )


def photo(seed: int, height: int = 37, width: int = 45, channels: int = 3, low: int = 70, high: int = 180):
    """Mid-range pixels: a denoiser's output then needs no clipping."""
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(low, high, shape, dtype=np.uint8)


def denoise(capsys, models: Models, model: Path, *args) -> tuple[int, str, str]:
    return cli(capsys, "denoise", model, *args, "--sigma", 25, "--trust", models.ca)


def test_gray_model_on_a_colour_photo_names_both_ways_forward(models, tmp_path, capsys):
    Image.fromarray(photo(1)).save(tmp_path / "colour.png")
    code, _, err = denoise(capsys, models, models.gray, tmp_path / "colour.png", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "colour photo" in err and "use a colour model" in err and "--luminance" in err
    assert not (tmp_path / "out").exists()


def test_colour_model_keeps_colour_and_gray(models, tmp_path, capsys):
    Image.fromarray(photo(2)).save(tmp_path / "colour.png")
    Image.fromarray(photo(3, channels=1)).save(tmp_path / "gray.png")
    files = [tmp_path / "colour.png", tmp_path / "gray.png"]
    code, out, err = denoise(capsys, models, models.colour, *files, "--out", tmp_path / "out", "--json", "--no-sign")
    assert code == 0, err
    assert Image.open(tmp_path / "out" / "colour.png").mode == "RGB"
    assert Image.open(tmp_path / "out" / "gray.png").mode == "L"
    modes = {Path(row["input"]).name: row["channels"]["mode"] for row in json.loads(out)["outputs"]}
    assert modes == {"colour.png": "direct", "gray.png": "gray-replicated"}
    # The gray output is the mean of the colour model's three planes for the replicated gray.
    replicated = np.repeat(np.asarray(Image.open(files[1]))[..., None], 3, axis=2)
    Image.fromarray(replicated).save(tmp_path / "replicated.png")
    code, _, err = denoise(
        capsys, models, models.colour, tmp_path / "replicated.png", "--out", tmp_path / "r", "--no-sign"
    )
    assert code == 0, err
    planes = np.asarray(Image.open(tmp_path / "r" / "replicated.png"), dtype=float)
    unclipped = ((planes > 0) & (planes < 255)).all(axis=2)  # the mean is taken before clipping
    assert unclipped.mean() > 0.8
    gray = np.asarray(Image.open(tmp_path / "out" / "gray.png"), dtype=float)
    assert np.abs(gray - planes.mean(axis=2))[unclipped].max() <= 1


def test_luminance_keeps_cb_and_cr_and_the_manifest_says_so(models, tmp_path, capsys):
    source = photo(4, 48, 64)
    Image.fromarray(source).save(tmp_path / "colour.png")
    code, _, err = denoise(
        capsys, models, models.gray, tmp_path / "colour.png", "--out", tmp_path / "out", "--luminance"
    )
    assert code == 0, err
    before = np.asarray(Image.fromarray(source).convert("YCbCr"), dtype=int)
    written = Image.open(tmp_path / "out" / "colour.png")
    assert written.mode == "RGB"
    after = np.asarray(written.convert("YCbCr"), dtype=int)
    assert np.abs(after[..., 0] - before[..., 0]).mean() > 2  # Y was denoised: the test can fail
    unclipped = ((np.asarray(written) > 0) & (np.asarray(written) < 255)).all(axis=2)
    assert unclipped.mean() > 0.95
    # Cb and Cr: unchanged within 8-bit rounding (each file's YCbCr is itself rounded)
    assert np.abs(after[..., 1:] - before[..., 1:])[unclipped].max() <= 1
    code, out, err = cli(capsys, "verify", tmp_path / "out" / "colour.png", "--json")
    assert code == 0, err
    channels = json.loads(out)[0]["channels"]
    assert channels["input"] == 3 and channels["output"] == 3 and channels["model"] == 1
    assert channels["mode"] == "luminance" and channels["sigma_rgb"] == 25
    # The model was given the noise left in Y by noise of sigma 25 in each of R, G and B.
    assert json.loads(out)[0]["sigma"] == pytest.approx(25 * np.sqrt(0.299**2 + 0.587**2 + 0.114**2))
    code, out, _ = cli(capsys, "verify", tmp_path / "out" / "colour.png")
    assert "channels: 3 in, 3 out, model 1 (luminance:" in out


def test_a_colour_manifest_records_its_channels(models, tmp_path, capsys):
    Image.fromarray(photo(5)).save(tmp_path / "colour.png")
    code, _, err = denoise(capsys, models, models.colour, tmp_path / "colour.png", "--out", tmp_path / "out")
    assert code == 0, err
    code, out, _ = cli(capsys, "verify", tmp_path / "out" / "colour.png", "--json")
    channels = json.loads(out)[0]["channels"]
    assert (channels["input"], channels["output"], channels["model"], channels["mode"]) == (3, 3, 3, "direct")
    assert "luminance" not in channels


def test_luminance_with_a_colour_model_is_refused(models, tmp_path, capsys):
    Image.fromarray(photo(6)).save(tmp_path / "colour.png")
    args = (tmp_path / "colour.png", "--out", tmp_path / "out", "--luminance")
    code, _, err = denoise(capsys, models, models.colour, *args)
    assert code == 2 and "--luminance is for gray models" in err and not (tmp_path / "out").exists()


def test_alpha_is_copied_bit_for_bit(models, tmp_path, capsys):
    rgba = np.dstack([photo(7), np.random.default_rng(8).integers(0, 256, (37, 45), dtype=np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    gray_alpha = Image.fromarray(np.dstack([photo(9, channels=1), rgba[..., 3]]), mode="LA")
    gray_alpha.save(tmp_path / "gray-alpha.png")
    files = (tmp_path / "alpha.png", tmp_path / "gray-alpha.png")
    code, _, err = denoise(capsys, models, models.colour, *files, "--out", tmp_path / "out", "--no-sign")
    assert code == 0, err
    written = Image.open(tmp_path / "out" / "alpha.png")
    assert written.mode == "RGBA" and np.array_equal(np.asarray(written)[..., 3], rgba[..., 3])
    assert not np.array_equal(np.asarray(written)[..., :3], rgba[..., :3])  # the colour was denoised
    written = Image.open(tmp_path / "out" / "gray-alpha.png")
    assert written.mode == "LA" and np.array_equal(np.asarray(written)[..., 1], rgba[..., 3])
    # JPEG cannot carry alpha: refused before anything is written.
    code, _, err = denoise(capsys, models, models.colour, files[0], "--out", tmp_path / "j", "--format", "jpeg")
    assert code == 2 and "JPEG has no alpha channel" in err and not (tmp_path / "j").exists()


def exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def test_an_exif_rotated_jpeg_comes_out_upright(models, tmp_path, capsys):
    stored = photo(10, height=24, width=40)
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", quality=95, exif=exif_with_orientation(6))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "rotated.jpg")))
    assert upright.shape == (40, 24, 3)
    code, _, err = denoise(
        capsys, models, models.identity, tmp_path / "rotated.jpg", "--out", tmp_path / "out", "--no-sign"
    )
    assert code == 0, err
    written = Image.open(tmp_path / "out" / "rotated.png")
    assert written.size == (24, 40) and np.array_equal(np.asarray(written), upright)
    assert written.getexif().get(0x0112) is None  # nothing left to rotate it a second time


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation, tmp_path):
    image = Image.fromarray(photo(11, height=5, width=7))
    image.save(tmp_path / "o.png", exif=exif_with_orientation(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    assert np.array_equal(orient(np.asarray(image), orientation), expected)


def test_an_icc_profile_is_carried(models, tmp_path, capsys):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    Image.fromarray(photo(12)).save(tmp_path / "profiled.png", icc_profile=profile)
    Image.fromarray(photo(13)).save(tmp_path / "profiled.jpg", icc_profile=profile, quality=95)
    files = (tmp_path / "profiled.png", tmp_path / "profiled.jpg")
    for index, source in enumerate(files):
        code, _, err = denoise(capsys, models, models.colour, source, "--out", tmp_path / f"out{index}")
        assert code == 0, err
        assert Image.open(tmp_path / f"out{index}" / "profiled.png").info.get("icc_profile") == profile


def test_a_palette_png_becomes_rgb(models, tmp_path, capsys):
    palette = Image.fromarray(photo(14)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "palette.png")
    transparent = palette.copy()
    transparent.info["transparency"] = 0
    transparent.save(tmp_path / "transparent.png", transparency=0)
    files = (tmp_path / "palette.png", tmp_path / "transparent.png")
    code, _, err = denoise(capsys, models, models.identity, *files, "--out", tmp_path / "out", "--no-sign")
    assert code == 0, err
    written = Image.open(tmp_path / "out" / "palette.png")
    assert written.mode == "RGB" and np.array_equal(np.asarray(written), np.asarray(palette.convert("RGB")))
    written = Image.open(tmp_path / "out" / "transparent.png")
    assert written.mode == "RGBA"
    assert np.array_equal(np.asarray(written), np.asarray(Image.open(files[1]).convert("RGBA")))


def test_cmyk_becomes_rgb_and_its_profile_is_not_carried(models, tmp_path, capsys):
    """A CMYK profile describes ink, not the RGB pixels written: carrying it would misstate them."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # stands in for a CMYK profile
    Image.fromarray(photo(21)).convert("CMYK").save(tmp_path / "print.jpg", quality=95, icc_profile=profile)
    code, _, err = denoise(capsys, models, models.colour, tmp_path / "print.jpg", "--out", tmp_path / "o", "--no-sign")
    assert code == 0, err
    written = Image.open(tmp_path / "o" / "print.png")
    assert written.mode == "RGB" and "icc_profile" not in written.info


def test_tiling_a_groupnorm_model_warns(tmp_path, capsys):
    keys = tmp_path / "keys"
    model = random_model_folder(tmp_path / "gn", keys, channels=3, norm="group")
    Image.fromarray(photo(22)).save(tmp_path / "colour.png")
    args = ("denoise", model, tmp_path / "colour.png", "--sigma", 25, "--trust", keys / CA_CERT, "--no-sign")
    code, _, err = cli(capsys, *args, "--out", tmp_path / "tiled", "--tile", 16)
    assert code == 0 and "GroupNorm or attention" in err and "--tile 0" in err
    code, _, err = cli(capsys, *args, "--out", tmp_path / "whole", "--tile", 0)
    assert code == 0 and "GroupNorm" not in err


def sixteen_bit_rgb(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).integers(0, 65536, (21, 30, 3), dtype=np.uint16)
    assert (values % 257 != 0).mean() > 0.99  # not 8-bit values scaled up: 16 bits must survive
    return values


def read_16bit_png(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_16_bit_colour_round_trips_at_16_bits(models, tmp_path, capsys, suffix):
    values = sixteen_bit_rgb(15)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / f"deep{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(source, values, photometric="rgb", iccprofile=profile)
    else:
        cv2.imwrite(str(source), values[..., ::-1])
    assert read_photo(source).bits == 16
    code, _, err = denoise(capsys, models, models.identity, source, "--out", tmp_path / "out", "--bits", 16)
    assert code == 0, err
    written = tmp_path / "out" / "deep.png"
    assert np.array_equal(read_16bit_png(written), values)  # every one of the 16 bits, through the model
    if suffix == ".tif":
        assert Image.open(written).info.get("icc_profile") == profile
    code, _, err = cli(capsys, "verify", written, "--json")
    assert code == 0, err


def test_16_bit_colour_with_alpha_keeps_its_alpha(models, tmp_path, capsys):
    rgba = np.dstack([sixteen_bit_rgb(16), np.random.default_rng(17).integers(0, 65536, (21, 30), dtype=np.uint16)])
    cv2.imwrite(str(tmp_path / "deep.png"), rgba[..., [2, 1, 0, 3]])
    code, _, err = denoise(
        capsys, models, models.identity, tmp_path / "deep.png", "--out", tmp_path / "out", "--bits", 16, "--no-sign"
    )
    assert code == 0, err
    written = cv2.imread(str(tmp_path / "out" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(written[..., [2, 1, 0, 3]], rgba)


def gray_alpha_16_png(path: Path, gray: np.ndarray, alpha: np.ndarray) -> None:
    """A 16-bit gray+alpha PNG, written by hand (colour type 4: Pillow would read it as 8-bit RGBA)."""
    height, width = gray.shape
    samples = np.dstack([gray, alpha]).astype(">u2").reshape(height, -1).view(np.uint8)
    rows = np.hstack([np.zeros((height, 1), np.uint8), samples]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 4, 0, 0, 0])
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def test_16_bit_gray_with_alpha_stays_gray_and_16_bit(models, tmp_path, capsys):
    gray, alpha = sixteen_bit_rgb(23)[..., 0], sixteen_bit_rgb(24)[..., 0]
    gray_alpha_16_png(tmp_path / "ga.png", gray, alpha)
    assert read_photo(tmp_path / "ga.png").mode == "LA;16"
    args = (tmp_path / "ga.png", "--no-sign")
    code, _, err = denoise(capsys, models, models.identity, *args, "--out", tmp_path / "o16", "--bits", 16)
    assert code == 0, err
    written = cv2.imread(str(tmp_path / "o16" / "ga.png"), cv2.IMREAD_UNCHANGED)  # gray+alpha comes as BGRA
    assert np.array_equal(written[..., 0], gray) and np.array_equal(written[..., 3], alpha)
    code, _, err = denoise(capsys, models, models.identity, *args, "--out", tmp_path / "o8")
    assert code == 0, err
    written = Image.open(tmp_path / "o8" / "ga.png")
    assert written.mode == "LA"
    assert np.array_equal(np.asarray(written)[..., 1], np.rint(alpha / 257).astype(np.uint8))


def test_over_the_pixel_budget_one_line_exit_2_nothing_written(models, tmp_path, capsys):
    Image.fromarray(photo(18)).save(tmp_path / "big.png")  # 45 x 37 = 1665 pixels
    code, _, err = denoise(
        capsys, models, models.colour, tmp_path / "big.png", "--out", tmp_path / "o", "--max-pixels", 1000
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "45x37" in err and "over the pixel budget" in err and "--max-pixels" in err
    assert not (tmp_path / "o").exists()


def test_the_workspace_setting_sets_the_pixel_budget(models, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    workspace, _ = init_workspace(tmp_path / "ws")
    monkeypatch.chdir(workspace.root)
    Image.fromarray(photo(19)).save(tmp_path / "big.png")
    code, _, err = cli(capsys, "config", "set", "max-pixels", "1000")
    assert code == 0, err
    code, _, err = denoise(capsys, models, models.colour, tmp_path / "big.png", "--out", "o", "--no-sign")
    assert code == 2 and "over the pixel budget of 0.001 megapixels" in err and not Path("o").exists()
    code, _, err = denoise(capsys, models, models.colour, tmp_path / "big.png", "--out", "o", "--max-pixels", 2000)
    assert code == 0, err  # the option wins over the setting
    code, _, err = cli(capsys, "config", "set", "max-pixels", "lots")
    assert code == 2 and "max-pixels must be a positive whole number" in err
    workspace.store().close()


def test_the_budget_is_checked_before_decoding(tmp_path):
    """A header claiming 60000 x 60000 pixels is refused without allocating them."""
    with pytest.raises(Exception, match="3600.0 megapixels, over the pixel budget"):
        read_photo(bomb_png(tmp_path / "bomb.png"))


# Measured here: 1.5 GB in 512-pixel tiles (1.1 GB of it is the process before any photo:
# torch, OpenCV, C2PA, model signing), 2.3 GB for the whole image at once through the same
# tiny network. (The reference U-Net, default tiles, --luminance: 2.2 GB; whole: 18.6 GB.)
MEMORY_BOUND_MB = 1900


def test_a_6000_by_4000_photo_stays_under_a_memory_bound(models, tmp_path):
    """Peak memory of `registry denoise` (a child process) on a 24-megapixel colour photo, tiled."""
    y, x = np.mgrid[0:4000, 0:6000]
    image = np.dstack([(x * 255 // 6000), (y * 255 // 4000), ((x + y) % 256)]).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "large.jpg", quality=90)
    del image, x, y
    command = [
        sys.executable, "-m", "registry.cli", "denoise", str(models.small), str(tmp_path / "large.jpg"),
        "--out", str(tmp_path / "out"), "--sigma", "25", "--trust", str(models.ca), "--no-sign",
        "--format", "jpeg", "--tile", "512",
    ]  # fmt: skip
    # A fresh interpreter runs it, so the peak is that of `registry denoise` alone.
    measure = (
        "import resource, subprocess, sys; "
        f"code = subprocess.run({command!r}, stdout=subprocess.DEVNULL).returncode; "
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, cwd=ROOT)
    code, peak_kb = map(int, result.stdout.split())
    assert code == 0, result.stderr
    assert Image.open(tmp_path / "out" / "large.jpg").size == (6000, 4000)
    assert peak_kb / 1024 < MEMORY_BOUND_MB, f"peak {peak_kb / 1024:.0f} MB"


def test_the_pixel_budget_allows_exactly_its_size_and_names_what_is_over():
    from registry.errors import RegistryError
    from registry.photos import BUDGET_HINT, check_budget

    check_budget(1000, 1000, 1_000_000, Path("fits.png"))  # exactly the budget is allowed
    with pytest.raises(RegistryError) as refused:
        check_budget(1_150_001, 1, 1_000_000, Path("wide.png"))
    assert str(refused.value) == (
        f"wide.png: 1150001x1 is 1.2 megapixels, over the pixel budget of 1 megapixels; {BUDGET_HINT}"
    )


def test_read_photo_names_the_file_as_shown_and_records_its_form(tmp_path):
    """Every refusal names the file (as `shown` when given, else its path); what is recorded of
    the input's form is exact: 16-bit colour layouts, float32 pixels, no profile kept from CMYK."""
    from registry.errors import RegistryError

    bomb = bomb_png(tmp_path / "bomb.png")
    text = tmp_path / "notes.png"
    text.write_text("not pixels")
    truncated = tmp_path / "cut.png"
    Image.fromarray(photo(31, 40, 40)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    shown = Path("as-given.png")
    for path, reason in [
        (bomb, "{}: 60000x60000 is 3600.0 megapixels"),
        (text, "not an image: {}"),
        (truncated, "unreadable image {}: image file is truncated"),
    ]:
        for name, kwargs in [(path, {}), (shown, {"shown": shown})]:
            with pytest.raises(RegistryError) as refused:
                read_photo(path, **kwargs)
            assert str(refused.value).startswith(reason.format(name))

    cv2.imwrite(str(tmp_path / "rgb16.png"), sixteen_bit_rgb(32)[..., ::-1])
    rgba = np.dstack([sixteen_bit_rgb(33), sixteen_bit_rgb(34)[..., 0]])
    cv2.imwrite(str(tmp_path / "rgba16.png"), rgba[..., [2, 1, 0, 3]])
    assert read_photo(tmp_path / "rgb16.png").mode == "RGB;16"
    deep = read_photo(tmp_path / "rgba16.png")
    assert (deep.mode, deep.bits, deep.pixels.dtype) == ("RGBA;16", 16, np.float32)
    planar = sixteen_bit_rgb(36)  # one plane per sample: tifffile reads it, OpenCV cannot
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(planar, -1, 0), photometric="rgb", planarconfig="separate")
    deep = read_photo(tmp_path / "planar.tif")
    assert deep.mode == "RGB;16" and np.array_equal(np.rint(deep.pixels * 65535).astype(np.uint16), planar)

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo(35)).convert("CMYK").save(tmp_path / "print.jpg", quality=95, icc_profile=profile)
    printed = read_photo(tmp_path / "print.jpg")
    assert printed.icc_profile is None and printed.describe()["icc_profile"] is False
    assert printed.pixels.dtype == np.float32
