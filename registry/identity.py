"""The registry's own id, which every signed output and exported model carries.

A verifier cross-checks a file against a registry only when the ids match; any other
registry (a copy made elsewhere, a folder that happens to enclose the file) cannot
speak for it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.errors import RegistryError
from registry.models import RegistryInfo

WORKSPACE_ID = "workspace_id"


def registry_id(session: Session) -> str:
    row = session.get(RegistryInfo, WORKSPACE_ID)
    if row is None:  # the migration that creates it always writes it; a missing row was deleted
        raise RegistryError("this registry has no workspace id (its registry_info row is missing)")
    return row.value
