"""The shape of provenoise's lineage assertion (`org.provenoise.lineage`), checked before use.

A manifest is written by whoever holds a signing key, so its lineage assertion is
untrusted input: each field provenoise reads must have the type it is read as, or the
file fails verification with the reason (and the rest of a batch is still verified).
Fields provenoise does not read are allowed, so newer writers stay readable. Types are
strict: a number given as a string, a list where a mapping belongs, is malformed.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Signer(_Open):
    common_name: str | None = None
    subject: str | None = None


class _Input(_Open):
    manifest: str | None = None
    signer: _Signer | None = None
    accepted_invalid: bool | None = None
    reason: str | None = None


class _ModelSignature(_Open):
    status: str | None = None
    signer: _Signer | None = None


class _Dataset(_Open):
    name: str | None = None
    licenses: dict[str, Any] | None = None


class _TrainingData(_Open):
    datasets: list[_Dataset] | None = None
    consent: dict[str, Any] | None = None
    withdrawn_since_training: list[str] | None = None


class _Channels(_Open):
    input: int | None = None
    output: int | None = None
    model: int | None = None
    mode: str | None = None
    luminance: str | None = None
    gray: str | None = None


class LineageAssertion(_Open):
    schema_version: int | None = Field(default=None, alias="schema")
    source: str | None = None
    run_id: str | None = None
    model_name: str | None = None
    claims: str | None = None
    checkpoint_sha256: str | None = None
    latest_audit: str | None = None
    workspace_id: str | None = None
    model_workspace_id: str | None = None
    withdrawals_location: str | None = None
    input_sha256: str | None = None
    output_pixel_sha256: str | None = None
    sigma: float | None = None
    sigma_estimated: bool | None = None
    steps: int | None = None
    input: _Input | None = None
    channels: _Channels | None = None
    training_data: _TrainingData | None = None
    model_signature: _ModelSignature | None = None
    run_record: dict[str, str | None] | None = None


def lineage_problem(data: dict[str, Any]) -> str | None:
    """None when the assertion has the shape provenoise reads, else the first problem, in one line."""
    try:
        LineageAssertion.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(the assertion)"
        # Pydantic's words, less its class names: "Input should be a valid dictionary or instance of _Input".
        message = re.sub(r" or instance of \w+", "", first["msg"]).replace("Input should be", "should be")
        more = len(exc.errors()) - 1
        return f"{where} {message}" + (f" ({more} more problem{'s' * (more > 1)})" if more else "")
    return None
