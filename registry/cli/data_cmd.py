"""registry data add|list|show, registry consent set"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.vocabulary import CONSENT_STATUSES
from registry.workspace import find_workspace

data_app = typer.Typer(help="Register and inspect datasets.", no_args_is_help=True)
consent_app = typer.Typer(help="Record consent for an image.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.add_typer(consent_app, name="consent")


@data_app.command(
    "add", epilog="Example: registry data add ../shared/datasets/bsd68 --name bsd68 --source 'BSDS300 test set'"
)
def add(
    folder: Annotated[Path, typer.Argument(help="Folder of images to register.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name (letters, digits, . _ -).")],
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="CSV with a 'file' column; default FOLDER/MANIFEST.csv if present."),
    ] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="SPDX id for images the manifest gives none.")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Where the images come from.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy a folder of images into data/NAME, version it with DVC and record every image."""
    from registry.datasets import add_dataset, dataset_consent, show_dataset
    from registry.views import dataset_duplicates, dataset_summary

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    with ui.progress(f"checking images of {name}", None) as update:
        dataset = add_dataset(
            workspace, folder, name, manifest, license, source, lambda n, total: update(n, total=total)
        )
    dataset = show_dataset(workspace, dataset.name)
    consent = dataset_consent(workspace, [dataset])
    summary = dataset_summary(dataset, consent) | {"duplicates": dataset_duplicates(dataset, consent)}
    missing = missing_rights(dataset)
    if missing:
        ui.warn(missing)

    def render() -> None:
        ui.line(f"registered {summary['name']}: {summary['images']} images in {summary['path']}")
        # Copies share consent, so say which registered pictures these rows now stand with.
        for copy in summary["duplicates"]:
            ui.line(
                f"  {copy['image']} is the same picture as {', '.join(copy['duplicates'])} "
                f"(consent shared; effective: {copy['effective_consent']})"
            )

    ui.result(summary, render)


def missing_rights(dataset) -> str | None:
    """Without a manifest nothing says who may use the images: a warning, and how to say it.
    (A manifest that records `unknown` consent has said so; that is a record, not an omission.)"""
    from registry.manifests import UNKNOWN_LICENSE

    if dataset.manifest_sha256 is not None:
        return None
    unlicensed = sum(image.license == UNKNOWN_LICENSE for image in dataset.images)
    licence = f"{unlicensed} have no licence ({UNKNOWN_LICENSE}; --license SPDX-ID sets one for all), "
    return (
        f"{dataset.name} has no MANIFEST.csv: of its {len(dataset.images)} images {licence if unlicensed else ''}"
        "none has a consent "
        "record; give a manifest (columns image_id,file,license,consent,source,attribution,notes: see "
        "../shared/datasets/*/MANIFEST.csv) or record consent with `registry consent set`"
    )


@data_app.command("list", epilog="Example: registry data list --json")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List registered datasets."""
    from registry.datasets import dataset_consent, list_datasets
    from registry.views import dataset_summary

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    datasets = list_datasets(workspace)
    consent = dataset_consent(workspace, datasets)
    rows = [dataset_summary(d, consent) for d in datasets]
    ui.result(
        rows,
        lambda: ui.table(
            "datasets",
            ("name", "images", "license", "consent (effective)", "version (DVC)", "added"),
            [
                (
                    r["name"],
                    r["images"],
                    r["license"],
                    _consent_counts(r["effective_consent"]),
                    r["dvc_version"][:12],
                    r["added_at"],
                )
                for r in rows
            ],
        ),
    )


def _consent_counts(consent: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in consent.items())


@data_app.command("show", epilog="Example: registry data show starter --datasheet")
def show(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    datasheet: Annotated[
        bool, typer.Option("--datasheet", help="Answer the Datasheets for Datasets questions.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a dataset and every image with its hash, licence and consent (or its datasheet)."""
    from registry.datasets import dataset_consent, dataset_datasheet, show_dataset
    from registry.views import dataset_detail

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    if datasheet:
        answers = dataset_datasheet(workspace, name)
        rows = [list(answer.values()) for answer in answers]
        ui.result(answers, lambda: ui.table(f"datasheet: {name}", ("section", "question", "answer"), rows))
        return
    dataset = show_dataset(workspace, name)
    detail = dataset_detail(dataset, dataset_consent(workspace, [dataset]))

    def render() -> None:
        ui.fields(
            f"dataset {name}",
            [
                (k, detail[k])
                for k in ("images", "path", "license", "source", "content_hash", "dvc_version", "added_by", "added_at")
            ]
            + [
                ("consent (effective)", _consent_counts(detail["effective_consent"])),
                ("consent (recorded)", _consent_counts(detail["consent"])),
            ],
        )
        ui.table(
            "images",
            ("image", "size", "mode", "license", "consent", "effective", "copies", "attribution", "sha256"),
            [
                (
                    i["image_id"],
                    f"{i['width']}x{i['height']}",
                    i["mode"],
                    i["license"],
                    i["consent"],
                    i["effective_consent"],
                    ", ".join(i["copies"]) or "-",
                    i["attribution"],
                    i["sha256"][:16],
                )
                for i in detail["image_list"]
            ],
        )

    ui.result(detail, render)


@consent_app.command(
    "set", epilog="Example: registry consent set set12/08 --status withdrawn --note 'subject asked to stop its use'"
)
def consent_set(
    image: Annotated[str, typer.Argument(help="DATASET/IMAGE_ID")],
    status: Annotated[str, typer.Option("--status", help=f"One of: {', '.join(CONSENT_STATUSES)}.")],
    note: Annotated[str, typer.Option("--note", help="Why, or where the consent record is.")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set an image's consent status; it reaches every copy of the picture, and the most restrictive wins.

    A withdrawal also lists what it affects: runs that trained or validated on the picture (their
    weights depend on it) with their exported models and outputs; apart from them, runs that only
    tested on it and evaluations that scored it (their metrics include it).
    """
    from registry.consent import WITHDRAWN
    from registry.datasets import set_consent
    from registry.impact import withdrawal_impact

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    event = set_consent(workspace, image, status, note)
    data = {
        "image": image,
        "previous": event.previous,
        "status": event.status,
        "note": event.note,
        "changed_by": event.changed_by,
        "reached": event.reached,
        "impact": withdrawal_impact(workspace, image) if event.status == WITHDRAWN else None,
    }

    def render() -> None:
        ui.line(f"{image}: consent {event.previous} -> {event.status}")
        for copy in event.reached:
            ui.line(f"  reached {copy['image']}: recorded {copy['recorded']}, effective {copy['effective']}")
        if data["impact"] is not None:
            render_impact(ui, data["impact"])

    ui.result(data, render)


def render_impact(ui: UI, impact: dict) -> None:
    affected, tested, evaluations = impact["affected_runs"], impact["tested_runs"], impact["evaluations"]
    if not (affected or tested or evaluations):
        ui.line("no run, model, output or evaluation used this picture")
        return
    if affected:
        ui.table(
            f"affected runs: their weights depend on this picture ({len(affected)}); retrain them without it",
            ("run", "name", "status", "used as", "images"),
            [(r["run"], r["name"], r["status"], ", ".join(r["roles"]), ", ".join(r["images"])) for r in affected],
        )
    if impact["exported_models"]:
        ui.table(
            "exported models of affected runs",
            ("export", "run", "path", "signed", "when"),
            [(e["export"], e["run"], e["path"], e["signed"], e["created_at"]) for e in impact["exported_models"]],
        )
    if impact["outputs"]:
        ui.table(
            "outputs of affected runs",
            ("output", "run", "path", "signed", "when"),
            [(o["output"], o["run"], o["path"], o["signed"], o["created_at"]) for o in impact["outputs"]],
        )
    if tested:
        ui.table(
            "runs that only tested on it: their metrics include it",
            ("run", "name", "status", "images"),
            [(r["run"], r["name"], r["status"], ", ".join(r["images"])) for r in tested],
        )
    if evaluations:
        ui.table(
            "evaluations that scored it: their metrics include it",
            ("evaluation", "run", "dataset", "images", "when"),
            [(e["evaluation"], e["run"], e["dataset"], ", ".join(e["images"]), e["created_at"]) for e in evaluations],
        )
