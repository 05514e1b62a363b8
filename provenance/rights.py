"""Training and mining rights (the CAWG `cawg.training-mining` assertion), entry by entry.

An output inherits the restrictions of everything it came from: the input's own
assertion, the model's training data (withdrawn consent), the input's consent in the
registry, and the workspace policy. Each entry (generative training, training,
inference, data mining) takes the most restrictive use among its sources. CAWG says a
`constrained` use is to be treated as `notAllowed` without further information, so it
never loosens anything; its `constraint_info` (whom to ask) is carried along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRAINING_MINING_LABEL = "cawg.training-mining"
LEGACY_LABEL = "c2pa.training-mining"  # C2PA 1.x; its entries are named c2pa.* instead of cawg.*
ALLOWED, NOT_ALLOWED, CONSTRAINED = "allowed", "notAllowed", "constrained"
MINING_USES = (ALLOWED, NOT_ALLOWED, CONSTRAINED)
MINING_ENTRIES = ("cawg.ai_generative_training", "cawg.ai_training", "cawg.ai_inference", "cawg.data_mining")
_RESTRICTIVENESS = {ALLOWED: 0, CONSTRAINED: 1, NOT_ALLOWED: 2}


class RightsError(ValueError):
    """A use that is not one of the CAWG values."""


@dataclass
class Restriction:
    """What one source says about one entry."""

    origin: str  # "input", "training data", "input consent", "workspace policy", "default policy"
    use: str
    why: str = ""
    constraint_info: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"from": self.origin, "use": self.use, "why": self.why}
        if self.constraint_info:
            data["constraint_info"] = self.constraint_info
        return data


@dataclass
class EntryDecision:
    use: str
    sources: list[Restriction] = field(default_factory=list)


def check_use(use: str) -> str:
    if use not in MINING_USES:
        raise RightsError(f"training-mining use must be one of {', '.join(MINING_USES)}, got {use!r}")
    return use


def everywhere(origin: str, use: str, why: str = "") -> dict[str, Restriction]:
    """One source saying the same thing for every entry."""
    check_use(use)
    return {entry: Restriction(origin, use, why) for entry in MINING_ENTRIES}


def from_assertion(data: dict[str, Any], origin: str = "input") -> dict[str, Restriction]:
    """The entries of a training-mining assertion (CAWG, or C2PA 1.x's `c2pa.` names).

    Anything unreadable counts as notAllowed: a malformed restriction is still a restriction.
    """
    found: dict[str, Restriction] = {}
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return everywhere(origin, NOT_ALLOWED, "unreadable training-mining assertion read as notAllowed")
    for name, value in entries.items():
        entry = "cawg." + str(name).removeprefix("c2pa.") if str(name).startswith("c2pa.") else str(name)
        use = value.get("use") if isinstance(value, dict) else None
        if use not in MINING_USES:
            found[entry] = Restriction(origin, NOT_ALLOWED, f"unrecognised use {use!r} read as notAllowed")
        else:
            info = value.get("constraint_info")
            found[entry] = Restriction(origin, use, "", str(info) if info is not None else None)
    return found


def decide(sources: list[dict[str, Restriction]]) -> dict[str, EntryDecision]:
    """Per entry, the most restrictive use of all sources (constrained never loosens)."""
    decisions = {}
    for entry in MINING_ENTRIES:
        said = [source[entry] for source in sources if entry in source]
        strictest = max((r.use for r in said), key=_RESTRICTIVENESS.__getitem__, default=NOT_ALLOWED)
        decisions[entry] = EntryDecision(strictest, [r for r in said if r.use != ALLOWED] or said)
    return decisions


def assertion(decisions: dict[str, EntryDecision]) -> dict[str, Any]:
    """The `cawg.training-mining` assertion for an output, with any constraint_info kept."""
    entries = {}
    for entry, decision in decisions.items():
        value: dict[str, Any] = {"use": decision.use}
        infos = [r.constraint_info for r in decision.sources if r.constraint_info]
        if decision.use == CONSTRAINED and infos:
            value["constraint_info"] = "; ".join(dict.fromkeys(infos))
        entries[entry] = value
    return {"label": TRAINING_MINING_LABEL, "data": {"entries": entries}}


def explain(decisions: dict[str, EntryDecision]) -> dict[str, Any]:
    """Where each entry's use came from, for provenoise's own assertion and for `verify`."""
    return {
        entry: {"use": decision.use, "sources": [r.to_dict() for r in decision.sources]}
        for entry, decision in decisions.items()
    }


def summarize(entries: dict[str, Any]) -> str:
    """One word for a whole assertion: the common use, or "mixed"."""
    uses = {value.get("use") for value in entries.values() if isinstance(value, dict)}
    return uses.pop() if len(uses) == 1 else "mixed"
