"""registry eval"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.errors import RegistryError
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "eval",
        epilog="Example: registry eval 20261126-0601 --dataset bsd68 --dataset set12 --sigma 15,25,50 "
        "--baselines gaussian,wavelet,tv,nlm,bm3d. A paired dataset (manifest column noisy_file, e.g. cc15) is "
        "scored on its real noisy files, blind unless --sigma is given.",
    )(eval_)


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RegistryError(f"{option} expects numbers separated by commas, got {text!r}") from None


def eval_(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    datasets: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="Registered dataset (repeatable); default: the run's test split."),
    ] = None,
    sigma: Annotated[
        str | None,
        typer.Option("--sigma", help="Noise levels, e.g. 15,25,50 (real noise: the sigma methods are told)."),
    ] = None,
    baselines: Annotated[
        str | None, typer.Option("--baselines", help="Comma list of gaussian, wavelet, tv, nlm, bm3d.")
    ] = None,
    protocol: Annotated[
        str | None, typer.Option("--protocol", help="float (published, unclipped noisy input) or png8 (clipped 8-bit).")
    ] = None,
    blind: Annotated[
        bool | None,
        typer.Option("--blind/--no-blind", help="Estimate sigma from each noisy image (default: the run's)."),
    ] = None,
    estimator: Annotated[str | None, typer.Option("--estimator", help="Blind-mode estimator: liu, pca or mad.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Annealed denoising steps K (1 = one step).")] = None,
    include_withdrawn: Annotated[
        bool, typer.Option("--include-withdrawn", help="Also evaluate images whose consent is withdrawn.")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why --include-withdrawn is justified (recorded).")] = "",
    table_sigma: Annotated[float, typer.Option("--table-sigma", help="Sigma of the per-image Table 1.")] = 25.0,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the CSV/JSON tables.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a run's model and the classical baselines on the same noisy images; print Tables 1-3."""
    from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
    from registry.tables import EvalView, evaluation_tables, sigma_label, table1, table3

    ui = UI(as_json)
    overrides = {
        key: value
        for key, value in {
            "sigmas": _floats(sigma, "--sigma"),
            "baselines": [b.strip() for b in baselines.split(",") if b.strip()] if baselines is not None else None,
            "protocol": protocol,
            "blind": blind,
            "estimator": estimator,
            "steps": steps,
        }.items()
        if value is not None
    }
    workspace = find_workspace(db_url=db)
    request = EvalRequest(datasets or [], overrides, include_withdrawn, reason, out)
    ids = evaluate_run(workspace, run, request, ui)
    views = [EvalView.of_evaluation(e) for e in show_evaluations(workspace, ids)]
    data = [evaluation_tables(evaluation_id, view) for evaluation_id, view in zip(ids, views)]

    def render() -> None:
        for item, view in zip(data, views):
            title = f"{view.dataset} (evaluation {item['evaluation']})"
            ui.rows_table(f"{title}: every method", item["methods"])
            sigma_for_table = table_sigma if table_sigma in view.sigmas else view.sigmas[0]
            label = sigma_label(view, sigma_for_table)
            label = f"sigma {label:g}" if isinstance(label, float) else label
            ui.rows_table(f"Table 1, {label}: per image", table1(view, sigma_for_table))
            if view.seen_in_training:
                seen = ", ".join(f"{image} ({role})" for image, role in sorted(view.seen_in_training.items()))
                ui.line(f"seen in training, not a test of new photos: {seen}")
            ui.rows_table("Table 2: aggregates of the model", item["table2"])
            for excluded in view.excluded:
                ui.line(f"left out: {excluded['image']} ({excluded['reason']})")
            for name, why in view.unavailable.items():
                ui.line(f"{name} unavailable: {why}")
            if view.note:
                ui.line(view.note)
        if len(views) > 1:
            ui.rows_table("Table 3: across datasets", table3(views))

    ui.result({"evaluations": data, "table3": table3(views)}, render)
