"""registry runs list|show"""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import find_workspace

runs_app = typer.Typer(help="Inspect recorded runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


@runs_app.command("list", epilog="Example: registry runs list --json")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List runs, oldest first."""
    from registry.impact import withdrawn_training_images
    from registry.runs import list_runs
    from registry.views import run_summary

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    withdrawn = withdrawn_training_images(workspace)
    rows = [run_summary(r, withdrawn.get(r.id, [])) for r in list_runs(workspace)]
    ui.result(
        rows,
        lambda: ui.table(
            "runs",
            ("run", "name", "status", "PSNR@25", "SSIM@25", "train s", "audit", "withdrawn training data"),
            [
                (
                    r["id"],
                    r["name"],
                    r["status"],
                    r["model_at_sigma_25"].get("psnr"),
                    r["model_at_sigma_25"].get("ssim"),
                    r["train_seconds"],
                    r["latest_audit"],
                    _withdrawn_cell(r["withdrawn_training_images"]),
                )
                for r in rows
            ],
        ),
    )


def _withdrawn_cell(images: list[str]) -> str:
    """Affected runs stand out in the list: what their weights depend on, or how many."""
    if not images:
        return "-"
    return "AFFECTED: " + (", ".join(images) if len(images) <= 2 else f"{len(images)} images")


@runs_app.command("show", epilog="Example: registry runs show 20261126-0601 (any unique prefix of the id)")
def show(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show everything recorded about a run."""
    from registry.impact import withdrawn_training_images
    from registry.runs import show_run, successor_ids
    from registry.views import run_detail

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    record = show_run(workspace, run)
    detail = run_detail(
        record,
        successor_ids(workspace, record.id),
        withdrawn_training_images(workspace, [record.id]).get(record.id, []),
    )
    if detail["withdrawn_training_images"]:
        ui.warn(
            f"run {record.id} is affected: its weights depend on images whose consent is withdrawn "
            f"({', '.join(detail['withdrawn_training_images'])})"
        )
    ui.result(detail, lambda: render_run(ui, detail))


def render_run(ui: UI, d: dict) -> None:
    code, env = d["code"], d["environment"]
    ui.fields(
        f"run {d['id']}",
        [
            ("name", d["name"]),
            ("status", d["status"]),
            ("error", d["error"]),
            ("created / finished", f"{d['created_at']} / {d['finished_at']}"),
            ("ran by", d["user"]),
            ("config", f"{d['config_path']} (sha256 {d['config_hash'][:16]})"),
            ("seed / split seed", f"{d['seed']} / {d['split_seed']}"),
            ("successor of", d["successor_of"] or "-"),
            ("successors", ", ".join(d["successors"] or []) or "none"),
            ("data version (DVC)", d["data_version"]),
            (
                "code",
                f"provenoise {code.get('package_version')}, source {code['source_sha256'][:16]}, "
                f"commit {(code.get('git_commit') or '-')[:12]}, "
                f"uncommitted {(code.get('git_dirty_sha256') or 'none')[:12]}",
            ),
            (
                "environment",
                f"python {env['python']}, torch {env['torch']}, numpy {env['numpy']}, "
                f"scikit-image {env['scikit_image']}, {env['threads']} threads, {env['cpu_model']}",
            ),
            ("train / eval seconds", f"{d['train_seconds'] or 0:.1f} / {d['eval_seconds'] or 0:.1f}"),
            ("resumed", d["resumed"]),
            ("excluded images", ", ".join(f"{e['image']} ({e['reason']})" for e in d["excluded"]) or "none"),
            (
                "withdrawn since (train/val)",
                ", ".join(d.get("withdrawn_training_images") or []) or "none: no withdrawn image shaped its weights",
            ),
        ],
    )
    ui.table(
        "split",
        ("role", "count", "images"),
        [(role, len(m), ", ".join(x["image"] for x in m)) for role, m in d["splits"].items()],
    )
    ui.table(
        "checkpoints",
        ("step", "final", "sha256", "path"),
        [(c["step"], c["final"], c["sha256"], c["path"]) for c in d["checkpoints"]],
    )
    val = [(p["step"], p["value"]) for p in d["losses"] if p["split"] == "val"]
    train = {p["step"]: p["value"] for p in d["losses"] if p["split"] == "train"}
    ui.table("loss curve", ("step", "train loss", "val loss"), [(step, train.get(step), value) for step, value in val])
    if d["aggregates"]:
        ui.table(
            "test metrics (mean ± std over test images)",
            ("sigma", "method", "metric", "mean", "std", "n"),
            [(f"{a['sigma']:g}", a["method"], a["metric"], a["mean"], a["std"], a["count"]) for a in d["aggregates"]],
        )
    if d["cost"]:
        c = d["cost"]
        ui.fields(
            f"compute cost ({c['threads']} threads, median of {c['repeats']})",
            [("parameters", c["parameters"]), ("GFLOPs per megapixel", c["gflops_per_megapixel"])]
            + [(f"inference ms, {size}", ms) for size, ms in c["inference_ms"].items()]
            + [(f"peak memory MB, {size}", mb) for size, mb in c["peak_memory_mb"].items()],
        )
    for metric, reason in ((d["evaluation"] or {}).get("unavailable") or {}).items():
        ui.line(f"{metric} unavailable: {reason}")
    if d["evaluations"]:
        ui.table(
            "evaluations (registry eval)",
            ("id", "dataset", "when", "sigmas", "protocol", "left out"),
            [
                (e["id"], e["dataset"], e["at"], e["options"]["sigmas"], e["options"]["protocol"], len(e["excluded"]))
                for e in d["evaluations"]
            ],
        )
    if d["audits"]:
        ui.table("audits", ("when", "verdict", "reason"), [(a["at"], a["verdict"], a["reason"]) for a in d["audits"]])
