"""Pictures of a lineage graph: DOT source, SVG drawn by Graphviz's `dot`, and writing them.

The DOT source is built with the `graphviz` package; SVG needs Graphviz's `dot` program,
and without it SVG falls back to DOT. Every label is made inert twice: control characters
go (registry.text) and DOT's own syntax (quotes, backslash escapes, `<...>` HTML-like
labels, `&` entities) is escaped, so a record cannot change the picture's structure, and
`dot` escapes the text again when it writes SVG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz

from registry.consent import WITHDRAWN
from registry.errors import RegistryError
from registry.files import write_new
from registry.lineage import LEFT_OUT, ROLE_WORDS
from registry.text import printable

DOT_TIMEOUT_S = 60

_STYLE = {  # kind -> (shape, fill colour)
    "input": ("ellipse", "#eeeeee"),
    "image": ("ellipse", "#fde7c8"),
    "dataset": ("cylinder", "#fff4d6"),
    "run": ("box", "#dbe8fb"),
    "checkpoint": ("note", "#e6f2e6"),
    "evaluation": ("hexagon", "#efe3f7"),
    "export": ("folder", "#d9f0ee"),
    "model": ("folder", "#d9f0ee"),
    "output": ("component", "#f4f4f4"),
    "file": ("component", "#f4f4f4"),
}
_WITHDRAWN_COLOUR = "#a8261b"


def _dot_text(text: str) -> str:
    """One label line, inert in DOT: no control characters; backslashes, quotes and `&` escaped."""
    return graphviz.escape(printable(text).replace("&", "&amp;"))


def _dot_label(text: str) -> str:
    # graphviz.nohtml: a label that starts with "<" and ends with ">" must not become an HTML-like label.
    return graphviz.nohtml("\\n".join(_dot_text(line) for line in str(text).split("\n")))


def to_dot(graph: dict[str, Any]) -> str:
    """DOT source of a lineage graph (the dict of Lineage.as_dict). Node names are n0, n1...:
    the stable ids hold ':' and '/', which DOT would read as ports."""
    dot = graphviz.Digraph(
        "lineage",
        graph_attr={"rankdir": "LR", "fontname": "Helvetica", "fontsize": "10", "nodesep": "0.25"},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#5b6670"},
    )
    names = {node["id"]: f"n{index}" for index, node in enumerate(graph["nodes"])}
    for node in graph["nodes"]:
        shape, fill = _STYLE.get(node["kind"], ("box", "#ffffff"))
        flagged = node.get("effective_consent") == WITHDRAWN or bool(node.get("withdrawn_training_images"))
        attrs = {"shape": shape, "fillcolor": fill}
        if flagged:
            attrs |= {"color": _WITHDRAWN_COLOUR, "fontcolor": _WITHDRAWN_COLOUR, "penwidth": "2"}
        if node["id"] == graph["root"]:
            attrs["style"] = "filled,bold"
        dot.node(names[node["id"]], label=_dot_label(node["label"]), **attrs)
    # Parallel edges (a dataset used for training, validation and testing) become one arrow.
    labels: dict[tuple[str, str], list[str]] = {}
    order = {role: index for index, role in enumerate(ROLE_WORDS)}
    for edge in sorted(graph["edges"], key=lambda e: order.get(e["relation"], len(order))):
        if edge["from"] in names and edge["to"] in names:
            text = edge["relation"] + (f" ({edge['count']})" if edge.get("count") is not None else "")
            labels.setdefault((edge["from"], edge["to"]), []).append(text)
    for (source, target), texts in labels.items():
        style = {"style": "dashed"} if texts == [LEFT_OUT] else {}
        dot.edge(names[source], names[target], label=_dot_label("\n".join(texts)), **style)
    return dot.source


def dot_program() -> str | None:
    """Graphviz's `dot`, when it is installed."""
    return shutil.which("dot")


def to_svg(dot_source: str) -> str | None:
    """The SVG that `dot` draws, or None when `dot` is not installed."""
    program = dot_program()
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot_source.encode(), capture_output=True, timeout=DOT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryError(f"Graphviz's dot failed: {exc}") from None
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        raise RegistryError(f"Graphviz's dot failed: {first}")
    return done.stdout.decode()


def inline_svg(svg: str) -> str:
    """The <svg> element alone (no XML prolog, doctype or comments before it), to embed in HTML."""
    return svg[svg.index("<svg") :]


NO_DOT_NOTE = "Graphviz's dot is not installed (Debian: apt-get install graphviz)"


@dataclass
class Picture:
    format: str  # what `text` is: dot or svg
    text: str
    note: str | None = None  # why it is not what was asked for


def picture(graph: dict[str, Any], format: str) -> Picture:
    """The graph as DOT or SVG; SVG falls back to DOT (with a note) when `dot` is not installed."""
    source = to_dot(graph)
    if format == "dot":
        return Picture("dot", source)
    svg = to_svg(source)
    if svg is None:
        return Picture("dot", source, f"{NO_DOT_NOTE}: wrote DOT instead of SVG")
    return Picture("svg", svg)


def write_picture(out: Path, picture: Picture, force: bool = False) -> Path:
    """Write a picture (registry.files.write_new: temporary file and rename, never through a link,
    over a file only with `force`); DOT that stands in for SVG goes to PATH.dot."""
    out = Path(out)
    if picture.format == "dot" and out.suffix.lower() == ".svg":
        out = out.with_suffix(".dot")
    if out.is_dir():
        raise RegistryError(f"--out {out} is a folder; give a file name")
    if not out.parent.is_dir():
        raise RegistryError(f"--out {out}: folder {out.parent} does not exist")
    return write_new(out, picture.text.encode(), force)


def fence(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
