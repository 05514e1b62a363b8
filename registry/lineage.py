"""Lineage: everything upstream and downstream of an image, dataset, run, model folder or output.

The graph is drawn from the records: an image -> its copies (the same picture in any
dataset, registry.consent) -> their datasets -> the runs that trained, validated or tested
on them and the evaluations that scored them -> each run's final checkpoint -> the models
exported from it and the outputs it produced. Successor links (`runs.successor_of`) join a
run and its re-training. Edges point downstream, from what was used to what was made.

Only what depends on the item is followed downstream: a run that trained or validated on an
image has weights that depend on it, so its checkpoint, exports and outputs are part of the
image's lineage; a run that only tested on it, and an evaluation that scored it, are shown
but not followed (their metrics include it, their weights do not). Upstream of a run, its
data is grouped by dataset (with counts per role), except images whose consent is now
withdrawn, which are shown one by one: they are what a reviewer asks about.

Node ids are stable: `image:DATASET/IMAGE`, `dataset:NAME`, `run:ID`, `checkpoint:RUN/STEP`,
`evaluation:ID`, `export:ID`, `output:ID`; a model folder or file that is not a record gets
`model:PATH` or `file:PATH`, and the input of a signed output `input:SHA256`.

Pictures of the graph (DOT, SVG) are registry.lineage_picture's job.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from provenance.signing import SigningError
from provenance.verification import NO_MANIFEST, OK, verify_image
from registry.consent import WITHDRAWN, copies_of, effective_consent, image_key
from registry.errors import NotFoundError, RegistryError
from registry.impact import WEIGHT_ROLES, affected_runs
from registry.model_folders import check_signature, is_model_folder, read_record, refuse_symlinks
from registry.models import Checkpoint, Dataset, Evaluation, Export, Image, Metric, Output, Run, SplitImage
from registry.runs import RUN_LOADS, get_run
from registry.text import printable
from registry.trust_store import chosen_anchors, model_anchors
from registry.workspace import Workspace

FORMATS = ("table", "json", "dot", "svg")
KIND_ORDER = ("input", "image", "dataset", "run", "checkpoint", "evaluation", "export", "model", "output", "file")
ROLE_WORDS = {"train": "trained on", "val": "validated on", "test": "tested on"}
LEFT_OUT = "left out"  # an image a run did not use because its consent was withdrawn
_LABEL_WIDTH = 40  # characters of a record string shown in a picture's label


@dataclass
class Node:
    id: str
    kind: str
    label: str  # what a picture shows; lines separated by "\n"
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str  # upstream: what was used
    target: str  # downstream: what was made from it
    relation: str  # train, val, test, same picture, in dataset, scored, evaluated, final checkpoint...
    count: int | None = None  # how many images, where an edge stands for several


@dataclass
class Lineage:
    item: str  # as asked
    root: str = ""  # the node id of the item
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def link(self, source: str, target: str, relation: str, count: int | None = None) -> None:
        self.edges.add(Edge(source, target, relation, count))

    def as_dict(self) -> dict[str, Any]:
        order = {kind: index for index, kind in enumerate(KIND_ORDER)}
        nodes = sorted(self.nodes.values(), key=lambda n: (order.get(n.kind, len(order)), n.id))
        edges = sorted(self.edges, key=lambda e: (e.source, e.target, e.relation))
        return {
            "item": self.item,
            "root": self.root,
            "nodes": [{"id": n.id, "kind": n.kind, "label": n.label, **n.attrs} for n in nodes],
            "edges": [
                {"from": e.source, "to": e.target, "relation": e.relation}
                | ({"count": e.count} if e.count is not None else {})
                for e in edges
            ],
            "notes": self.notes,
        }


# --- finding the item ------------------------------------------------------------------


def lineage_of(workspace: Workspace, item: str, trust: Sequence[Path] = ()) -> Lineage:
    """The lineage of ITEM: an image (DATASET/IMAGE), a dataset, a run id or unique prefix, an
    exported model folder or a signed output file. Registry names are tried first; write a
    path as ./PATH when it could also be read as a name."""
    graph = Lineage(item)
    with workspace.store().reader() as session:
        builder = _Builder(session, workspace, graph)
        if not builder.from_records(item):
            path = Path(item)
            if path.is_dir():
                builder.from_model_folder(path, model_anchors(list(trust)))
            elif path.is_file():
                builder.from_output(path, chosen_anchors(list(trust)))
            else:
                raise NotFoundError(f"no image, dataset, run, model folder or signed output named {item!r}")
        builder.flag_affected_runs()
    return graph


def run_lineage(session: Session, run: Run, workspace: Workspace | None = None) -> dict[str, Any]:
    """A run's lineage as data (what a report draws)."""
    graph = Lineage(run.id)
    builder = _Builder(session, workspace, graph)
    graph.root = builder.run(run, upstream=True, downstream=True)
    builder.flag_affected_runs()
    return graph.as_dict()


class _Builder:
    def __init__(self, session: Session, workspace: Workspace | None, graph: Lineage):
        self.session, self.workspace, self.graph = session, workspace, graph
        self.expanded: set[tuple[str, bool, bool]] = set()

    # items

    def from_records(self, item: str) -> bool:
        dataset_name, sep, image_id = item.partition("/")
        if sep:
            image = self.session.scalar(
                select(Image)
                .join(Dataset)
                .where(Dataset.name == dataset_name, Image.image_id == image_id)
                .options(selectinload(Image.dataset))
            )
            if image is not None:
                self.graph.root = self.image_downstream(image)
                return True
        dataset = self.session.scalar(select(Dataset).where(Dataset.name == item))
        if dataset is not None:
            self.graph.root = self.dataset_downstream(dataset)
            return True
        try:
            run = get_run(self.session, item)
        except NotFoundError:  # (an ambiguous prefix is an error of its own, raised to the user)
            return False
        self.graph.root = self.run(run, upstream=True, downstream=True)
        return True

    def image_downstream(self, image: Image) -> str:
        copies = copies_of(self.session, image)
        effective = effective_consent(self.session, copies)
        root = self.image(image, effective[image.id])
        keys = {image_key(c): c for c in copies}
        for copy in copies:
            node = self.image(copy, effective[copy.id])
            if node != root:
                self.graph.link(root, node, "same picture")
            self.graph.link(node, self.dataset(copy.dataset), "in dataset")
        members = self.session.scalars(select(SplitImage).where(SplitImage.image_pk.in_([c.id for c in copies]))).all()
        for member in sorted(members, key=lambda m: (m.run_id, m.role, m.image_key)):
            run = self.session.get(Run, member.run_id, options=RUN_LOADS)
            node = self.run(run, upstream=False, downstream=member.role in WEIGHT_ROLES)
            self.graph.link(f"image:{member.image_key}", node, member.role)
        # A run that left the picture out (its consent was withdrawn when it trained) says so.
        for run_id, excluded in self.session.execute(select(Run.id, Run.excluded).order_by(Run.id)):
            for entry in excluded or []:
                if isinstance(entry, dict) and entry.get("image") in keys:
                    run = self.session.get(Run, run_id, options=RUN_LOADS)
                    self.graph.link(f"image:{entry['image']}", self.run(run, False, False), LEFT_OUT)
        scored = self.session.execute(
            select(Metric.evaluation_id, Metric.image_key)
            .where(Metric.evaluation_id.is_not(None), Metric.image_key.in_(list(keys)))
            .distinct()
        ).all()
        for evaluation_id, key in sorted(scored):
            node = self.evaluation(self.session.get(Evaluation, evaluation_id))
            self.graph.link(f"image:{key}", node, "scored")
        return root

    def dataset_downstream(self, dataset: Dataset) -> str:
        root = self.dataset(dataset)
        images = self.session.scalars(
            select(Image).where(Image.dataset_id == dataset.id).options(selectinload(Image.dataset))
        ).all()
        effective = effective_consent(self.session, images)
        withdrawn = {i.id for i in images if effective[i.id] == WITHDRAWN}
        for image in images:
            if image.id in withdrawn:
                self.graph.link(self.image(image, WITHDRAWN), root, "in dataset")
        members = self.session.scalars(select(SplitImage).where(SplitImage.image_pk.in_([i.id for i in images]))).all()
        counts = Counter((m.run_id, m.role) for m in members)
        weight_runs = {m.run_id for m in members if m.role in WEIGHT_ROLES}
        for run_id in sorted({m.run_id for m in members}):
            node = self.run(self.session.get(Run, run_id, options=RUN_LOADS), False, run_id in weight_runs)
            for role in ("train", "val", "test"):
                if counts[(run_id, role)]:
                    self.graph.link(root, node, role, counts[(run_id, role)])
        for member in members:
            if member.image_pk in withdrawn:
                self.graph.link(f"image:{member.image_key}", f"run:{member.run_id}", member.role)
        scored = self.session.execute(
            select(Metric.evaluation_id, Metric.image_key)
            .where(Metric.evaluation_id.is_not(None), Metric.image_key.startswith(f"{dataset.name}/", autoescape=True))
            .distinct()
        ).all()
        per_evaluation = Counter(evaluation_id for evaluation_id, _ in scored)
        for evaluation_id, count in sorted(per_evaluation.items()):
            self.graph.link(root, self.evaluation(self.session.get(Evaluation, evaluation_id)), "scored", count)
        return root

    def from_model_folder(self, folder: Path, anchors) -> None:
        if not is_model_folder(folder):
            raise RegistryError(f"{folder} is a folder but not an exported model (no provenoise-model.json)")
        refuse_symlinks(folder)
        with tempfile.TemporaryDirectory(prefix="provenoise-lineage-") as private:
            # One private copy for both checks: the folder may change between them.
            copy = Path(shutil.copytree(folder, Path(private) / "model", symlinks=True))
            verification = check_signature(copy, anchors, allow_unverified=True, shown=folder)
            meta, _ = read_record(copy, shown=folder)
        run_id, weights = meta.get("run_id"), meta.get("weights_sha256")
        if not isinstance(run_id, str) or not isinstance(weights, str):
            raise RegistryError(f"{folder} is not a usable model folder: its record names no run or weights")
        resolved = folder.resolve()
        signature = verification.summary()
        attrs = {
            "folder": str(folder),
            "run_id": run_id,
            "weights_sha256": weights,
            "signature": signature["status"],
            "signer": signature["signer"].get("subject"),
        }
        if not verification.ok:
            self.graph.notes.append(
                f"the folder's signature does not verify ({verification.status}): "
                "the run and weights it names are self-declared"
            )
        run = self.session.get(Run, run_id, options=RUN_LOADS)
        export = self._export_at(resolved, run_id, weights)
        if export is not None:
            root = self.export(export)
            self.graph.nodes[root].attrs |= attrs
        else:
            label = f"model folder\n{_short(folder.name)}"
            root = self.graph.add(Node(f"model:{resolved}", "model", label, attrs | {"path": str(folder)})).id
            self.graph.notes.append("this folder is not a recorded export of this registry (a copy, or made elsewhere)")
        self.graph.root = root
        checkpoint = self._made_by(run_id, weights, root, "exported", "the folder's weights are")
        if checkpoint is None and run is not None:
            return  # the weights are not the run's: its outputs are not this folder's
        for output in self._outputs(run_id, weights):
            self.graph.link(checkpoint or root, self.output(output), "produced")

    def from_output(self, path: Path, anchors) -> None:
        try:
            verification = verify_image(path, anchors)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except SigningError:
            raise RegistryError(f"{path} is not a signed output: not an image format that carries a manifest") from None
        except OSError as exc:
            raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
        if verification.reason == NO_MANIFEST:
            raise RegistryError(f"{path} is not a signed output: it has no C2PA manifest")
        facts = verification.lineage
        run_id = facts.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise RegistryError(f"{path} is not a signed output of provenoise: its manifest has no lineage assertion")
        weights = facts.get("checkpoint_sha256") if isinstance(facts.get("checkpoint_sha256"), str) else None
        input_sha = facts.get("input_sha256") if isinstance(facts.get("input_sha256"), str) else None
        if verification.reason != OK:
            self.graph.notes.append(
                f"the file's manifest does not verify ({verification.reason}): its claims are unproven"
            )
        recorded = self.session.scalar(select(Output).where(Output.output_sha256 == digest).order_by(Output.id))
        attrs = {"file": str(path), "verification": verification.reason, "run_id": run_id, "model_sha256": weights}
        if recorded is not None:
            root = self.output(recorded)
            self.graph.nodes[root].attrs |= attrs
        else:
            label = f"signed file\n{_short(path.name)}"
            root = self.graph.add(Node(f"file:{path.resolve()}", "file", label, attrs)).id
            self.graph.notes.append("this file is not a recorded output of this registry")
        self.graph.root = root
        if input_sha:
            name = recorded.input_name if recorded is not None else ""
            label = "input" + (f"\n{_short(name)}" if name else "") + f"\nsha256 {input_sha[:12]}"
            node = self.graph.add(Node(f"input:{input_sha}", "input", label, {"sha256": input_sha, "name": name}))
            self.graph.link(node.id, root, "denoised")
        self._made_by(run_id, weights, root, "produced", "the weights the file names are")

    def _made_by(self, run_id: str, weights: str | None, root: str, relation: str, whose: str) -> str | None:
        """Link `root` (a model folder or a signed file) up to the run that made it: through its
        final checkpoint when `weights` are that checkpoint's (returned), else to the run itself
        with a note; a run this registry does not hold gets a placeholder node."""
        run = self.session.get(Run, run_id, options=RUN_LOADS)
        if run is None:
            self.graph.notes.append(f"run {run_id} is not recorded in this registry; its training data is unknown here")
            self.graph.link(self._foreign_run(run_id), root, relation)
            return None
        self.run(run, upstream=True, downstream=False)
        final = self._final(run)
        if final is None or final.sha256 != weights:
            self.graph.notes.append(f"{whose} not run {run.id}'s final checkpoint")
            self.graph.link(f"run:{run.id}", root, relation)
            return None
        checkpoint = self.checkpoint(run, final)
        self.graph.link(checkpoint, root, relation)
        return checkpoint

    # nodes

    def image(self, image: Image, effective: str) -> str:
        key = image_key(image)
        label = f"image {key}\nconsent {effective}"
        if image.attribution:
            label += f"\n{_short(image.attribution)}"
        attrs = {
            "dataset": image.dataset.name,
            "sha256": image.sha256,
            "content_sha256": image.content_sha256,
            "license": image.license,
            "attribution": image.attribution,
            "consent": image.consent,
            "effective_consent": effective,
        }
        return self.graph.add(Node(f"image:{key}", "image", label, attrs)).id

    def dataset(self, dataset: Dataset) -> str:
        label = f"dataset {dataset.name}\nversion {dataset.content_hash[:12]}"
        if dataset.source:
            label += f"\n{_short(dataset.source)}"
        attrs = {
            "name": dataset.name,
            "source": dataset.source,
            "license": dataset.license,
            "content_hash": dataset.content_hash,
            "dvc_version": dataset.dvc_version,
            "added_at": _time(dataset.added_at),
        }
        return self.graph.add(Node(f"dataset:{dataset.name}", "dataset", label, attrs)).id

    def run(self, run: Run, upstream: bool, downstream: bool) -> str:
        node = self.graph.add(
            Node(
                f"run:{run.id}",
                "run",
                f"run {run.id}\n{_short(run.name)} ({run.status})",
                {
                    "name": run.name,
                    "status": run.status,
                    "created_at": _time(run.created_at),
                    "config_hash": run.config_hash,
                    "data_version": run.data_version,
                    "seed": run.seed,
                    "split_seed": run.split_seed,
                    "successor_of": run.successor_of,
                },
            )
        ).id
        if (run.id, upstream, downstream) in self.expanded:
            return node
        self.expanded.add((run.id, upstream, downstream))
        self._successors(run)
        if upstream:
            self._run_data(run)
        if downstream:
            self._run_products(run)
        return node

    def checkpoint(self, run: Run, checkpoint: Checkpoint) -> str:
        node = self.graph.add(
            Node(
                f"checkpoint:{run.id}/{checkpoint.step}",
                "checkpoint",
                f"final checkpoint\nstep {checkpoint.step}, sha256 {checkpoint.sha256[:12]}",
                {"run_id": run.id, "step": checkpoint.step, "sha256": checkpoint.sha256, "path": checkpoint.path},
            )
        ).id
        self.graph.link(f"run:{run.id}", node, "final checkpoint")
        return node

    def evaluation(self, evaluation: Evaluation) -> str:
        label = f"evaluation {evaluation.id}\n{_short(evaluation.dataset)}"
        if evaluation.include_withdrawn:
            label += "\nwithdrawn images included"
        node = self.graph.add(
            Node(
                f"evaluation:{evaluation.id}",
                "evaluation",
                label,
                {
                    "run_id": evaluation.run_id,
                    "dataset": evaluation.dataset,
                    "created_at": _time(evaluation.created_at),
                    "include_withdrawn": evaluation.include_withdrawn,
                    "reason": evaluation.reason,  # why withdrawn images were included
                },
            )
        ).id
        if f"run:{evaluation.run_id}" not in self.graph.nodes:
            self.run(self.session.get(Run, evaluation.run_id, options=RUN_LOADS), upstream=False, downstream=False)
        self.graph.link(f"run:{evaluation.run_id}", node, "evaluated")
        return node

    def export(self, export: Export) -> str:
        return self.graph.add(
            Node(
                f"export:{export.id}",
                "export",
                f"exported model {export.id}\n{_short(Path(export.path).name)}",
                {
                    "run_id": export.run_id,
                    "path": export.path,
                    "weights_sha256": export.weights_sha256,
                    "signed": export.signed,
                    "signer": (export.signer or {}).get("subject"),
                    "created_at": _time(export.created_at),
                },
            )
        ).id

    def output(self, output: Output) -> str:
        return self.graph.add(
            Node(
                f"output:{output.id}",
                "output",
                f"output {output.id}\n{_short(Path(output.output_path).name)}",
                {
                    "run_id": output.run_id or output.model_run_id,
                    "path": output.output_path,
                    "input_name": output.input_name,
                    "input_sha256": output.input_sha256,
                    "model_sha256": output.model_sha256,
                    "signed": output.signed,
                    "sigma": output.sigma,
                    "created_at": _time(output.created_at),
                },
            )
        ).id

    # what a run used and made

    def _run_data(self, run: Run) -> None:
        node = f"run:{run.id}"
        counts = Counter((m.image_key.split("/", 1)[0], m.role) for m in run.splits)
        names = sorted({name for name, _ in counts})
        for dataset in self.session.scalars(select(Dataset).where(Dataset.name.in_(names))):
            for role in ("train", "val", "test"):
                if counts[(dataset.name, role)]:
                    self.graph.link(self.dataset(dataset), node, role, counts[(dataset.name, role)])
        images = self.session.scalars(
            select(Image).where(Image.id.in_({m.image_pk for m in run.splits})).options(selectinload(Image.dataset))
        ).all()
        effective = effective_consent(self.session, images)
        by_pk = {image.id: image for image in images}
        for member in run.splits:
            image = by_pk.get(member.image_pk)
            if image is not None and effective[image.id] == WITHDRAWN:
                self.graph.link(self.image(image, WITHDRAWN), node, member.role)
        for excluded in run.excluded or []:
            if isinstance(excluded, dict) and excluded.get("image"):
                self.graph.nodes[node].attrs.setdefault("left_out", []).append(excluded["image"])

    def _run_products(self, run: Run) -> None:
        node = f"run:{run.id}"
        final = self._final(run)
        checkpoint = self.checkpoint(run, final) if final is not None else None
        for export in self.session.scalars(select(Export).where(Export.run_id == run.id).order_by(Export.id)):
            source = checkpoint if checkpoint and export.weights_sha256 == final.sha256 else node
            self.graph.link(source, self.export(export), "exported")
        for output in self._outputs(run.id):
            source = checkpoint if checkpoint and output.model_sha256 == final.sha256 else node
            self.graph.link(source, self.output(output), "produced")
        for evaluation in run.evaluations:
            self.evaluation(evaluation)

    def _successors(self, run: Run) -> None:
        node = f"run:{run.id}"
        if run.successor_of:
            previous = self.session.get(Run, run.successor_of, options=RUN_LOADS)
            if previous is not None:
                self.graph.link(self.run(previous, False, False), node, "successor")
        for later in self.session.scalars(select(Run).where(Run.successor_of == run.id).options(*RUN_LOADS)):
            self.graph.link(node, self.run(later, False, False), "successor")

    def _outputs(self, run_id: str, weights: str | None = None) -> list[Output]:
        query = select(Output).where(or_(Output.run_id == run_id, Output.model_run_id == run_id))
        if weights is not None:
            query = query.where(Output.model_sha256 == weights)
        return list(self.session.scalars(query.order_by(Output.id)))

    def _final(self, run: Run) -> Checkpoint | None:
        finals = [c for c in run.checkpoints if c.final]
        return finals[-1] if finals else (run.checkpoints[-1] if run.checkpoints else None)

    def _export_at(self, folder: Path, run_id: str, weights: str) -> Export | None:
        for export in self.session.scalars(
            select(Export).where(Export.run_id == run_id, Export.weights_sha256 == weights).order_by(Export.id.desc())
        ):
            recorded = Path(export.path)
            if not recorded.is_absolute() and self.workspace is not None:
                recorded = self.workspace.root / recorded
            if recorded.resolve() == folder:
                return export
        return None

    def _foreign_run(self, run_id: str) -> str:
        label = f"run {run_id}\n(not in this registry)"
        return self.graph.add(Node(f"run:{run_id}", "run", label, {"in_registry": False})).id

    def flag_affected_runs(self) -> None:
        """Mark every run whose weights depend on a picture whose consent is now withdrawn."""
        recorded = [n.id.removeprefix("run:") for n in self.graph.nodes.values() if n.kind == "run"]
        affected = affected_runs(self.session, recorded)
        for node in self.graph.nodes.values():
            if node.kind == "run" and node.attrs.get("in_registry", True):
                node.attrs["withdrawn_training_images"] = affected.get(node.id.removeprefix("run:"), [])


def _short(text: str) -> str:
    text = printable(text).strip()
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 1] + "…"


def _time(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
