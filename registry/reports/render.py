"""Rendering a report's facts: one self-contained HTML file, a Hugging Face model card in
Markdown (figures written beside it), or JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from registry.lineage_picture import NO_DOT_NOTE, fence, inline_svg
from registry.reports.grids import CROP, Grid
from registry.text import markdown_inert


@dataclass
class Figure:
    name: str  # file stem when written beside a Markdown report
    caption: str
    png: bytes

    @property
    def data(self) -> str:
        return base64.b64encode(self.png).decode()


@dataclass
class RunMedia:
    figures: list[Figure] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    lineage_dot: str = ""  # the run's lineage graph (registry.lineage)
    lineage_svg: str | None = None  # drawn by Graphviz's dot; None when it is not installed


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 10 or value == 0 else f"{value:.4f}"
    return str(value)


def kv(mapping: dict) -> Markup:
    parts = [
        f"<code>{escape(k)}</code>&nbsp;{escape(fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v))}"
        for k, v in mapping.items()
    ]
    return Markup(" · ".join(parts))


def html_table(rows: list[dict[str, Any]]) -> Markup:
    if not rows:
        return Markup("<p>No rows.</p>")
    head = "".join(f"<th>{escape(column)}</th>" for column in rows[0])
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if isinstance(v, (int, float)) else ""}">{escape(fmt(v))}</td>' for v in row.values()
        )
        + "</tr>"
        for row in rows
    )
    return Markup(f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>')


def _grid_dict(grid: Grid) -> dict[str, Any]:
    return {
        "image": grid.image,
        "role": grid.role,
        "sigma": grid.sigma,
        "recorded_psnr": grid.recorded_psnr,
        "recomputed_psnr": grid.recomputed_psnr,
        "png": base64.b64encode(grid.png).decode(),
        "crops_png": base64.b64encode(grid.crops_png).decode() if grid.crops_png else None,
    }


def _headline(run: dict) -> float | None:
    rows = [r for r in run["results"]["test_split"]["table2"] if r["Sigma"] == run["results"]["table_sigma"]]
    return rows[0]["Mean_PSNR"] if rows else None


def _lineage_svg(media: RunMedia) -> Markup | None:
    """The lineage picture, inline. Markup is safe here because `dot` wrote it: its text is every
    label escaped for XML, and each label was made inert for DOT first (registry.lineage_picture)."""
    return Markup(inline_svg(media.lineage_svg)) if media.lineage_svg else None


def succession_rows(succession: dict) -> list[dict[str, Any]]:
    """The quality change of a successor, one row per sigma, for a table."""
    rows = []
    for q in succession["quality"]:
        row = {
            "σ": f"{q['sigma']:g}",
            "PSNR old": q["psnr_old"],
            "PSNR new": q["psnr_new"],
            "Δ PSNR (dB)": _signed(q["psnr_delta"]),
            "SSIM old": q["ssim_old"],
            "SSIM new": q["ssim_new"],
            "Δ SSIM": _signed(q["ssim_delta"]),
        }
        if succession["test_images"]["common"] and not succession["same_test_set"]:
            row["Δ PSNR, common images"] = _signed(q["psnr_delta_common"])
            row["Δ SSIM, common images"] = _signed(q["ssim_delta_common"])
        rows.append(row)
    return rows


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}" if abs(value) < 1 else f"{value:+.2f}"


def _comparison(facts: dict) -> list[tuple[str, list[str]]]:
    runs = facts["runs"]
    sigma = runs[0]["results"]["table_sigma"]

    def row(label, get):
        return (label, [fmt(get(run)) for run in runs])

    return [
        row("status", lambda r: r["summary"]["status"]),
        row("latest audit", lambda r: (r["summary"]["latest_audit"] or {}).get("verdict", "not audited")),
        row("architecture", lambda r: r["method"]["architecture"]["name"]),
        row("parameters", lambda r: r["method"]["parameters"]),
        row("noise map", lambda r: r["method"]["architecture"]["noise_map"]),
        row("target", lambda r: r["method"]["architecture"]["target"]),
        row("skip connections", lambda r: r["method"]["architecture"]["skip_connections"]),
        row(
            "schedule",
            lambda r: f"{r['method']['optimizer']['schedule']}, warmup {r['method']['optimizer']['warmup_steps']}",
        ),
        row("training minutes", lambda r: (r["compute"]["train_seconds"] or 0) / 60),
        row(f"test PSNR σ {sigma:g}", _headline),
        row(
            f"test SSIM σ {sigma:g}",
            lambda r: next((x["Mean_SSIM"] for x in r["results"]["test_split"]["table2"] if x["Sigma"] == sigma), None),
        ),
        row("training data", lambda r: ", ".join(d["name"] for d in r["data"]["datasets"])),
        row("successor of", lambda r: r["summary"]["successor_of"]),
        row(
            "withdrawn training images",
            lambda r: ", ".join(r["summary"]["withdrawn_training_images"]) or "none",
        ),
    ]


def render_html(facts: dict, media: list[RunMedia], shared: list[Figure]) -> str:
    environment = Environment(loader=PackageLoader("registry.reports"), autoescape=select_autoescape(["html", "j2"]))
    template = environment.get_template("report.html.j2")
    names = [run["summary"]["name"] for run in facts["runs"]]
    return template.render(
        facts=facts,
        title=f"{names[0]}: transparency report" if len(names) == 1 else f"Comparison: {', '.join(names)}",
        comparison=_comparison(facts) if len(names) > 1 else None,
        shared_figures=shared,
        run_media=[
            {
                "figures": m.figures,
                "grids": [_grid_dict(g) for g in m.grids],
                "lineage_svg": _lineage_svg(m),
                "lineage_dot": m.lineage_dot,
            }
            for m in media
        ],
        successions=[(s, succession_rows(s)) for s in facts.get("successions", [])],
        no_dot_note=NO_DOT_NOTE,
        headline=[_headline(run) for run in facts["runs"]],
        fmt=fmt,
        kv=kv,
        table=html_table,
        dataset_modes=dataset_modes,
        crop=CROP,
    )


def render_json(facts: dict) -> str:
    return json.dumps(facts, indent=2, default=str) + "\n"


def md_text(value: Any) -> str:
    """A value as one inert line of Markdown (registry.text.markdown_inert)."""
    return markdown_inert(fmt(value))


def _md_finalize(value: Any) -> Any:
    """Every {{ value }} of the Markdown template is escaped, unless it is Markup we built."""
    return value if isinstance(value, Markup) else md_text(value)


def _md_table(rows: list[dict[str, Any]]) -> Markup:
    if not rows:
        return Markup("_No rows._\n")
    lines = ["| " + " | ".join(md_text(column) for column in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(md_text(v) for v in row.values()) + " |" for row in rows]
    return Markup("\n".join(lines) + "\n")


def _hf_license(licenses: list[str]) -> dict[str, str]:
    """Hugging Face's license fields: the SPDX id when all data shares one, else `other`."""
    if len(licenses) == 1 and not licenses[0].startswith("LicenseRef-") and licenses[0] != "NOASSERTION":
        return {"license": licenses[0].lower()}
    names = ", ".join(licenses)
    return {"license": "other", "license_name": names, "license_link": "#training-data-licences"}


def front_matter(facts: dict) -> dict[str, Any]:
    run = facts["runs"][0]
    licenses = sorted({lic for r in facts["runs"] for lic in r["data"]["licenses"]})
    results = []
    for r in facts["runs"]:
        for row in r["results"]["table3"] or []:
            results.append((r, row["Dataset_ID"], row))
        if not r["results"]["table3"]:
            results += [(r, "test split", row) for row in r["results"]["test_split"]["table2"]]
    model_index = [
        {
            "name": run["summary"]["name"],
            "results": [
                {
                    "task": {"type": "image-denoising", "name": "Image denoising (AWGN)"},
                    "dataset": {"name": dataset, "type": dataset.split(" ")[0]},
                    "metrics": [
                        {"type": "psnr", "name": f"PSNR sigma {row['Sigma']:g}", "value": round(row["Mean_PSNR"], 3)},
                        {"type": "ssim", "name": f"SSIM sigma {row['Sigma']:g}", "value": round(row["Mean_SSIM"], 4)},
                    ],
                }
                for r, dataset, row in results
                if r is run and row.get("Mean_PSNR") is not None
            ],
        }
    ]
    return {
        **_hf_license(licenses),
        "datasets": sorted({d["name"] for r in facts["runs"] for d in r["data"]["datasets"]}),
        "metrics": ["psnr", "ssim"] + ([] if "lpips" in run["results"]["unavailable"] else ["lpips"]),
        "tags": ["image-denoising", "provenoise", "c2pa"],
        "library_name": "provenoise",
        "model-index": model_index,
    }


def dataset_modes(dataset: dict) -> str:
    """The channels of a dataset's images used, e.g. "RGB (12), L (3); paired with real noise (12)"."""
    modes = ", ".join(f"{mode} ({count})" for mode, count in dataset.get("modes", {}).items())
    return modes + (f"; paired with real noise ({dataset['paired']})" if dataset.get("paired") else "")


def render_markdown(facts: dict, media: list[RunMedia], asset_folder: str) -> str:
    environment = Environment(
        loader=PackageLoader("registry.reports"), autoescape=False, trim_blocks=False, finalize=_md_finalize
    )
    datasets = [
        [
            {
                "dataset": x["name"],
                "source": x["source"],
                "licences": ", ".join(f"{k} ({v})" for k, v in x["licenses"].items()),
                "images used": x["images_used"],
                "modes": dataset_modes(x),
                "version": x["content_hash"][:16],
            }
            for x in run["data"]["datasets"]
        ]
        for run in facts["runs"]
    ]
    splits = [
        [{"split": role, "images": v["count"], "seed": v["seed"]} for role, v in run["data"]["splits"].items()]
        for run in facts["runs"]
    ]
    return environment.get_template("model_card.md.j2").render(
        facts=facts,
        successions=[(s, succession_rows(s)) for s in facts.get("successions", [])],
        fence=fence,
        no_dot_note=NO_DOT_NOTE,
        front_matter=Markup(yaml.safe_dump(front_matter(facts), sort_keys=False).strip()),  # YAML quotes its own
        media=media,
        assets=Markup(quote(asset_folder)),  # a link target: percent-encoded, not backslash-escaped
        datasets=datasets,
        splits=splits,
        table=_md_table,
        fmt=fmt,
    )


def write_markdown_assets(folder: Path, media: list[RunMedia], shared: list[Figure]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for figure in shared:
        (folder / f"{figure.name}.png").write_bytes(figure.png)
    for index, run_media in enumerate(media):
        if run_media.lineage_svg:
            (folder / f"run{index}-lineage.svg").write_text(run_media.lineage_svg)
        for figure in run_media.figures:
            (folder / f"{figure.name}.png").write_bytes(figure.png)
        for grid in run_media.grids:
            (folder / f"run{index}-{grid.role}.png").write_bytes(grid.png)
            if grid.crops_png:
                (folder / f"run{index}-{grid.role}-crops.png").write_bytes(grid.crops_png)
