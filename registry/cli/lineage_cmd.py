"""registry lineage"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.errors import RegistryError
from registry.workspace import find_workspace

# kind -> (table title, [(column, attribute)]): what the tables show of each node
COLUMNS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "input": ("inputs", [("name", "name"), ("sha256", "sha256")]),
    "image": (
        "images",
        [("consent", "consent"), ("effective", "effective_consent"), ("license", "license"), ("by", "attribution")],
    ),
    "dataset": (
        "datasets",
        [("source", "source"), ("license", "license"), ("version", "content_hash"), ("DVC", "dvc_version")],
    ),
    "run": (
        "runs",
        [
            ("name", "name"),
            ("status", "status"),
            ("successor of", "successor_of"),
            ("withdrawn training images", "withdrawn_training_images"),
        ],
    ),
    "checkpoint": ("checkpoints", [("run", "run_id"), ("step", "step"), ("sha256", "sha256")]),
    "evaluation": (
        "evaluations",
        [
            ("run", "run_id"),
            ("dataset", "dataset"),
            ("when", "created_at"),
            ("withdrawn included", "include_withdrawn"),
            ("why", "reason"),
        ],
    ),
    "export": (
        "exported models",
        [("run", "run_id"), ("path", "path"), ("signed", "signed"), ("checked", "signature"), ("when", "created_at")],
    ),
    "model": ("model folders", [("run", "run_id"), ("path", "path"), ("signature", "signature")]),
    "output": (
        "outputs",
        [("run", "run_id"), ("path", "path"), ("signed", "signed"), ("verification", "verification")],
    ),
    "file": ("signed files", [("run", "run_id"), ("file", "file"), ("verification", "verification")]),
}


def register(app: typer.Typer) -> None:
    app.command(
        "lineage",
        epilog="Examples: registry lineage set12/08 · registry lineage RUN --format svg --out lineage.svg · "
        "registry lineage ./my-model --json · registry lineage clean/photo.png",
    )(lineage)


def lineage(
    item: Annotated[
        str,
        typer.Argument(
            help="An image (DATASET/IMAGE), a dataset, a run id (or unique prefix), an exported model folder "
            "or a signed output file. Names are looked up first; write ./PATH for a path that could be a name."
        ),
    ],
    format: Annotated[
        str, typer.Option("--format", help="table, json, dot (Graphviz source) or svg (needs Graphviz's dot).")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the dot/svg picture to this file instead of stdout.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    trust: Annotated[
        list[Path] | None, typer.Option("--trust", help="Also trust this CA (PEM) to check a folder or file.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every run, model, output and evaluation upstream and downstream of an item.

    Runs whose weights depend on an image whose consent is now withdrawn are flagged.
    """
    from registry.lineage import FORMATS, lineage_of
    from registry.lineage_picture import picture, write_picture

    ui = UI(as_json or format == "json")
    if format not in FORMATS:
        raise RegistryError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if as_json and format not in ("table", "json"):
        raise RegistryError(f"--json and --format {format} are two outputs; choose one")
    chosen = "json" if as_json else format
    if out is not None and chosen not in ("dot", "svg"):
        raise RegistryError("--out writes a picture: add --format dot or --format svg")
    graph = lineage_of(find_workspace(db_url=db), item, trust or []).as_dict()
    if chosen in ("table", "json"):
        ui.result(graph, lambda: render(ui, graph))
        return
    drawn = picture(graph, chosen)
    if drawn.note:  # one line whatever the terminal's width (rich would wrap it)
        print(f"note: {drawn.note}", file=sys.stderr)
    if out is None:
        # Every record string in the picture was made inert when it was built (registry.lineage_picture).
        sys.stdout.write(drawn.text if drawn.text.endswith("\n") else drawn.text + "\n")
        return
    written = write_picture(out, drawn, force)
    ui.line(f"wrote {written} ({drawn.format})")


def render(ui: UI, graph: dict[str, Any]) -> None:
    nodes = {node["id"]: node for node in graph["nodes"]}
    root = nodes[graph["root"]]
    ui.line(f"lineage of {graph['item']}: {root['kind']} {root['id']}")
    for kind, (title, columns) in COLUMNS.items():
        rows = [node for node in graph["nodes"] if node["kind"] == kind]
        if rows:
            ui.table(
                title,
                ["id", *(name for name, _ in columns)],
                [[_mark(node, graph["root"]), *(_cell(node.get(attr)) for _, attr in columns)] for node in rows],
            )
    ui.table(
        "links (upstream -> downstream)",
        ("from", "relation", "to"),
        [
            (edge["from"], edge["relation"] + (f" ({edge['count']})" if "count" in edge else ""), edge["to"])
            for edge in graph["edges"]
        ],
    )
    for note in graph["notes"]:
        ui.line(f"note: {note}")


def _mark(node: dict[str, Any], root: str) -> str:
    return node["id"] + (" *" if node["id"] == root else "")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:16]  # a sha256: its first 16 digits are enough to tell records apart
    return value
