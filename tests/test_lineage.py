"""`registry lineage` (issue 10, capability 1): everything upstream and downstream of an image,
a dataset, a run, an exported model folder or a signed output, as tables, JSON (nodes and
edges with stable ids), DOT and SVG; the run's picture in its reports; hostile labels stay
text; bad input gets one line and exit 2."""

import json
import os
import shutil

import pytest
from PIL import Image
from sqlalchemy import select

from registry.datasets import add_dataset, set_consent
from registry.models import Dataset
from registry.models import Image as ImageRow
from registry.runs import show_run
from tests.conftest import cli, synthetic_image, write_dataset

HOSTILE = '<script>alert(1)</script>&amp;"\\N'  # HTML, a DOT quote and escape, an XML entity


@pytest.fixture
def made(trained_workspace, tmp_path, capsys):
    """The trained run, exported once, with one signed output; returns (run id, folder, output, splits)."""
    run_id = trained_workspace.run_id
    assert cli(capsys, "export", run_id, "--out", tmp_path / "model")[0] == 0
    noisy = tmp_path / "noisy.png"
    Image.fromarray(synthetic_image(9)).save(noisy)
    code, _, err = cli(capsys, "denoise", run_id, noisy, "--out", "out", "--sigma", 25)
    assert code == 0, err
    roles = {}
    for member in show_run(trained_workspace.workspace, run_id).splits:
        roles.setdefault(member.role, []).append(member.image_key)
    return run_id, tmp_path / "model", trained_workspace.workspace.root / "out" / "noisy.png", roles


def lineage(capsys, *args):
    code, out, err = cli(capsys, "lineage", *args, "--json")
    assert code == 0, err
    graph = json.loads(out)
    nodes = {node["id"]: node for node in graph["nodes"]}
    edges = {(edge["from"], edge["relation"], edge["to"]) for edge in graph["edges"]}
    assert all(e[0] in nodes and e[2] in nodes for e in edges)  # every edge joins two listed nodes
    return graph, nodes, edges


def one_error_line(code, out, err) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and not out and len(lines) == 1 and lines[0].startswith("error: "), (code, out, err)
    return lines[0]


def test_an_image_reaches_its_runs_checkpoint_export_and_output(made, capsys):
    run_id, _, _, roles = made
    image = roles["train"][0]
    graph, nodes, edges = lineage(capsys, image)
    checkpoint = next(n for n in nodes if n.startswith(f"checkpoint:{run_id}/"))
    assert graph["root"] == f"image:{image}"
    assert {
        (f"image:{image}", "in dataset", "dataset:tiny"),
        (f"image:{image}", "train", f"run:{run_id}"),
        (f"run:{run_id}", "final checkpoint", checkpoint),
        (checkpoint, "exported", "export:1"),
        (checkpoint, "produced", "output:1"),
    } <= edges
    assert nodes["dataset:tiny"]["content_hash"] and nodes["dataset:tiny"]["dvc_version"]
    assert nodes["export:1"]["signed"] is True and nodes["output:1"]["path"] == "out/noisy.png"
    assert nodes[f"run:{run_id}"]["withdrawn_training_images"] == []

    # A run that only tested on the image is shown, and not followed: its weights do not depend on it.
    tested = roles["test"][0]
    _, nodes, edges = lineage(capsys, tested)
    assert (f"image:{tested}", "test", f"run:{run_id}") in edges
    assert not [n for n in nodes if n.split(":")[0] in ("checkpoint", "export", "output")]

    code, out, err = cli(capsys, "lineage", image)
    assert code == 0, err
    for title in (
        "images",
        "datasets",
        "runs",
        "checkpoints",
        "exported models",
        "outputs",
        "links (upstream -> downstream)",
    ):
        assert f"\n{title}\n" in out
    assert f"image:{image} *" in out and "export:1" in out and "output:1" in out


def test_a_run_shows_its_data_by_dataset_and_everything_it_made(made, capsys):
    run_id, *_ = made
    code, _, err = cli(capsys, "eval", run_id, "--dataset", "tiny", "--sigma", "25")
    assert code == 0, err
    graph, nodes, edges = lineage(capsys, run_id[:12])  # a unique prefix
    assert graph["root"] == f"run:{run_id}"
    counts = {e["relation"]: e["count"] for e in graph["edges"] if e["from"] == "dataset:tiny"}
    assert counts == {"train": 4, "val": 1, "test": 1}
    assert not [n for n in nodes if n.startswith("image:")]  # no image is withdrawn: none shown one by one
    evaluation = next(n for n in nodes if n.startswith("evaluation:"))
    assert (f"run:{run_id}", "evaluated", evaluation) in edges
    assert {"export:1", "output:1"} <= set(nodes)
    # The evaluation scored every image of `tiny`: each image's lineage reaches it.
    _, _, edges = lineage(capsys, "tiny/img04")
    assert ("image:tiny/img04", "scored", evaluation) in edges


def test_a_model_folder_and_a_signed_output_go_back_to_the_run_and_its_data(made, tmp_path, capsys):
    run_id, folder, output, _ = made
    graph, nodes, edges = lineage(capsys, folder)
    checkpoint = next(n for n in nodes if n.startswith("checkpoint:"))
    assert graph["root"] == "export:1" and nodes["export:1"]["signature"] == "signed"
    assert nodes["export:1"]["weights_sha256"] == nodes[checkpoint]["sha256"]
    assert {(checkpoint, "exported", "export:1"), ("dataset:tiny", "train", f"run:{run_id}")} <= edges

    # A copy of the folder somewhere else is not the recorded export, but it has the run's weights.
    copy = tmp_path / "copied-model"
    shutil.copytree(folder, copy)
    graph, nodes, edges = lineage(capsys, copy)
    assert graph["root"] == f"model:{copy.resolve()}" and (checkpoint, "exported", graph["root"]) in edges
    assert any("not a recorded export" in note for note in graph["notes"])

    graph, nodes, edges = lineage(capsys, output)
    assert graph["root"] == "output:1" and nodes["output:1"]["verification"] == "ok"
    input_node = next(n for n in nodes if n.startswith("input:"))
    assert nodes[input_node]["name"] == "noisy.png"
    assert {
        (input_node, "denoised", "output:1"),
        (checkpoint, "produced", "output:1"),
        (f"run:{run_id}", "final checkpoint", checkpoint),
        ("dataset:tiny", "train", f"run:{run_id}"),
    } <= edges


def test_dot_svg_and_the_fallback_without_dot(made, tmp_path, monkeypatch, capsys):
    run_id, *_ = made
    code, out, err = cli(capsys, "lineage", run_id, "--format", "dot")
    assert code == 0 and out.startswith("digraph lineage {") and f"run {run_id}" in out

    assert shutil.which("dot"), "Graphviz's dot is needed (Debian package graphviz; .ci/run installs it)"
    picture = tmp_path / "lineage.svg"
    code, out, err = cli(capsys, "lineage", run_id, "--format", "svg", "--out", picture)
    assert code == 0 and not err, err
    svg = picture.read_text()
    assert "<svg" in svg and f"run {run_id}".replace("-", "&#45;") in svg and "exported model 1" in svg
    # An existing file is replaced only with --force, and never through a symbolic link.
    assert "already exists" in one_error_line(*cli(capsys, "lineage", run_id, "--format", "svg", "--out", picture))
    assert cli(capsys, "lineage", run_id, "--format", "svg", "--out", picture, "--force")[0] == 0
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    link = tmp_path / "link.svg"
    os.symlink(target, link)
    line = one_error_line(*cli(capsys, "lineage", run_id, "--format", "svg", "--out", link, "--force"))
    assert "symbolic link" in line and target.read_text() == "keep"

    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)  # no `dot` on this machine
    code, out, err = cli(capsys, "lineage", run_id, "--format", "svg")
    assert code == 0 and out.startswith("digraph lineage {")
    assert len(err.strip().splitlines()) == 1 and "dot is not installed" in err and "DOT instead of SVG" in err
    code, out, err = cli(capsys, "lineage", run_id, "--format", "svg", "--out", tmp_path / "fallback.svg")
    assert code == 0 and (tmp_path / "fallback.dot").read_text().startswith("digraph lineage {")
    assert not (tmp_path / "fallback.svg").exists() and "fallback.dot" in out


def test_labels_from_records_cannot_change_the_picture(trained_workspace, tmp_path, capsys):
    workspace = trained_workspace.workspace
    add_dataset(workspace, write_dataset(tmp_path / "hostile", count=2), "hostile", source=HOSTILE)
    with workspace.store().transaction() as session:
        image = session.scalar(select(ImageRow).join(Dataset).where(Dataset.name == "hostile"))
        image.attribution = '\x1b[2J"]; n9 [label="injected'
    set_consent(workspace, f"hostile/{image.image_id}", "withdrawn")
    code, dot, err = cli(capsys, "lineage", "hostile", "--format", "dot")
    assert code == 0, err
    assert '[2J\\"]; n9 [label=\\"injected' in dot and "\x1b" not in dot  # quotes escaped, ESC gone
    assert "&amp;amp;" in dot and '\\"\\\\N' in dot  # an entity and a backslash escape stay text
    assert shutil.which("dot"), "Graphviz's dot is needed (Debian package graphviz; .ci/run installs it)"
    code, svg, err = cli(capsys, "lineage", "hostile", "--format", "svg")
    assert code == 0, err
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert svg.count('<g id="node') == 2  # the dataset and its withdrawn image: nothing injected


def test_the_report_carries_the_run_lineage_picture(trained_workspace, made, tmp_path, monkeypatch, capsys):
    run_id, *_ = made
    with trained_workspace.workspace.store().transaction() as session:
        session.scalar(select(Dataset).where(Dataset.name == "tiny")).source = HOSTILE
    out = tmp_path / "report.html"
    code, _, err = cli(capsys, "report", run_id, "--out", out)
    assert code == 0, err
    html = out.read_text()
    assert f'id="lineage-{run_id}"' in html and "exported model 1" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # the record's text, escaped by dot
    assert "<script" not in html.lower()

    code, _, err = cli(capsys, "report", run_id, "--format", "md", "--out", tmp_path / "card.md")
    assert code == 0, err
    assert (tmp_path / "card_files" / "run0-lineage.svg").read_text().count("<svg") == 1
    assert "card_files/run0-lineage.svg" in (tmp_path / "card.md").read_text()

    code, _, err = cli(capsys, "report", run_id, "--format", "json", "--out", tmp_path / "r.json")
    facts = json.loads((tmp_path / "r.json").read_text())
    assert facts["runs"][0]["lineage"]["root"] == f"run:{run_id}"

    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    assert cli(capsys, "report", run_id, "--out", out, "--force")[0] == 0
    html = out.read_text()
    assert "<svg" not in html and "dot is not installed" in html and "digraph lineage {" in html
    assert "<script" not in html.lower()
    assert cli(capsys, "report", run_id, "--format", "md", "--out", tmp_path / "plain.md")[0] == 0
    assert "```dot\ndigraph lineage {" in (tmp_path / "plain.md").read_text()


def test_bad_items_get_one_line_and_exit_2(made, tmp_path, capsys):
    run_id, folder, output, _ = made
    plain = tmp_path / "plain.png"
    Image.fromarray(synthetic_image(3)).save(plain)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    (tmp_path / "empty").mkdir()
    for argv, message in [
        (["no-such-thing"], "no image, dataset, run, model folder or signed output named"),
        (["tiny/img99"], "no image, dataset, run"),
        ([plain], "is not a signed output"),
        ([text], "is not a signed output"),
        ([tmp_path / "empty"], "not an exported model"),
        ([run_id, "--format", "pdf"], "--format must be one of"),
        ([run_id, "--out", tmp_path / "x.dot"], "--out writes a picture"),
        ([run_id, "--json", "--format", "svg"], "choose one"),
    ]:
        line = one_error_line(*cli(capsys, "lineage", *argv))
        assert message in line, (argv, line)
