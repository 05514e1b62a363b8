"""A short model card (Mitchell et al. 2019) for an exported model, from its record."""

from __future__ import annotations

from typing import Any

from registry.text import markdown_inert as md  # names, licences and sources are untrusted text

NOISE_NAMES = {
    "awgn": "additive white Gaussian",
    "poisson-gaussian": "Poisson-Gaussian",
    "jpeg": "JPEG compression",
    "pairs": "real (paired)",
}


def _channels(model: dict[str, Any]) -> int:
    return int(model.get("channels", 1))  # absent from configs recorded before colour models


def _colour_limitation(model: dict[str, Any]) -> str:
    if _channels(model) == 3:
        return "- Gray photos are denoised as RGB copies of themselves and come back gray."
    return (
        "- A colour photo is refused unless `--luminance`: then its luminance (Y of YCbCr) is "
        "denoised and its colour (Cb, Cr) kept; a colour model does better on colour."
    )


def _noise_limitation(noise: dict[str, Any], model: dict[str, Any]) -> str:
    if noise["kind"] == "pairs":  # learnt from one set of real shots, not from a noise model
        return (
            "- Trained on the real noise of its paired training images; other cameras, ISO settings "
            "and processing give other noise, which it was not made for."
        )
    return (
        f"- Trained for synthetic {NOISE_NAMES.get(noise['kind'], noise['kind'])} noise on "
        f"{'colour' if _channels(model) == 3 else 'grayscale'} images; real camera noise and noise levels "
        "outside the training range are not what it was made for."
    )


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def model_card(run: dict[str, Any], data: dict[str, Any], weights_sha256: str) -> str:
    config = run["config"]
    model, noise = config["model"], config["noise"]
    cost = run.get("cost") or {}
    code = run["code"]
    user = run.get("user")  # left out of exports unless --include-personal
    who = f" by {user.get('git_email') or user.get('os_user')}" if user else ""
    commit = code.get("git_commit") or "unknown"
    if code.get("git_dirty_sha256"):
        commit += f" plus uncommitted changes (sha256 {code['git_dirty_sha256'][:12]})"
    lines = [
        f"# {md(run['name'])}: a provenoise denoiser",
        "",
        f"{'Colour (RGB)' if _channels(model) == 3 else 'Grayscale'} image denoiser "
        f"({model['name']}, {cost.get('parameters', '?')} parameters) trained on "
        f"{NOISE_NAMES.get(noise['kind'], noise['kind'])} noise"
        + (
            f" with sigma {noise['sigma_min']:g} to {noise['sigma_max']:g} on the 8-bit scale"
            if noise["kind"] == "awgn"
            else ""
        )
        + ", conditioned on the noise level (give `--sigma`, or `--blind` to estimate it).",
        "",
        "## Use",
        "",
        "```sh",
        "registry denoise THIS_FOLDER noisy.png --out denoised/ --sigma 25",
        "```",
        "",
        "## Provenance",
        "",
        f"- Run `{run['id']}`, created {run['created_at']}{md(who)}",
        f"- Weights sha256 `{weights_sha256}`",
        f"- Code: provenoise {code.get('package_version')}, commit {commit}",
        f"- Latest audit: {run['audits'][-1]['verdict'] if run['audits'] else 'not audited'}",
        "",
        "## Training data",
        "",
    ]
    for dataset in data["datasets"]:
        licenses = ", ".join(f"{md(lic)} ({n})" for lic, n in dataset["licenses"].items())
        lines.append(
            f"- **{md(dataset['name'])}**: {dataset['images_used']} images; licences: {licenses}; "
            f"{md(dataset['source'])}"
        )
    if data["research_only"]:
        lines += [
            "",
            "**Research use only.** Some training images are licensed for non-commercial research and "
            "education only; this model inherits that restriction and must not be used commercially.",
        ]
    lines += ["", f"Consent of the images used (as recorded now): {md(data['consent'])}."]
    if data["excluded_at_training"]:
        lines.append(
            "Left out at training (consent withdrawn): "
            + ", ".join(md(e["image"]) for e in data["excluded_at_training"])
            + "."
        )
    if data["withdrawn_since_training"]:
        lines.append(f"Consent withdrawn since training: {', '.join(map(md, data['withdrawn_since_training']))}.")
    at = [a for a in run["aggregates"] if a["method"] == "model" and a["metric"] in ("psnr", "ssim")]
    if at:
        lines += ["", "## Results on the run's test split", "", "| sigma | PSNR | SSIM |", "|---|---|---|"]
        for sigma in sorted({a["sigma"] for a in at}):
            psnr = next((a["mean"] for a in at if a["sigma"] == sigma and a["metric"] == "psnr"), None)
            ssim = next((a["mean"] for a in at if a["sigma"] == sigma and a["metric"] == "ssim"), None)
            lines.append(f"| {sigma:g} | {_fmt(psnr)} | {_fmt(ssim, 4)} |")
    lines += [
        "",
        "## Limitations",
        "",
        _noise_limitation(noise, model),
        _colour_limitation(model),
        "",
    ]
    return "\n".join(lines)
