"""Secrets and personal data stay private: no stored password, a private .registry/."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from registry.db_urls import has_password, without_password
from tests.conftest import cli, create_database, drop_database

SECRET = "s3cr3t-Pa55"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def postgres_url():
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")


def test_init_never_stores_the_password_and_warns(postgres_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    # The server trusts local connections, so the password given is simply not needed.
    code, out, err = cli(capsys, "init", tmp_path / "ws", "--no-starter", "--db", with_password(postgres_url))
    assert code == 0, err
    assert "password on the command line is visible" in err and "PGPASSWORD" in err
    assert "not stored" in out and SECRET not in out + err
    config = tmp_path / "ws" / ".registry" / "config.json"
    assert SECRET not in config.read_text()
    assert json.loads(config.read_text())["db_url"] == postgres_url
    monkeypatch.chdir(tmp_path / "ws")  # the stored URL works: libpq supplies any password
    assert cli(capsys, "runs", "list")[0] == 0


def test_init_against_an_unreachable_server_records_no_url(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    code, _, err = cli(
        capsys, "init", tmp_path / "ws", "--no-starter", "--db", f"postgresql://u:{SECRET}@127.0.0.1:1/x"
    )
    assert code == 2 and SECRET not in err
    config = tmp_path / "ws" / ".registry" / "config.json"
    assert not config.exists() or SECRET not in config.read_text()


def test_registry_folder_database_and_config_are_private(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    assert cli(capsys, "init", tmp_path / "ws", "--no-starter", "--training-mining", "allowed")[0] == 0
    registry = tmp_path / "ws" / ".registry"
    assert mode(registry) == 0o700
    assert mode(registry / "registry.db") == 0o600
    assert mode(registry / "config.json") == 0o600
    (registry / "registry.db").chmod(0o644)  # a workspace from before: init again repairs it
    registry.chmod(0o755)
    assert cli(capsys, "init", tmp_path / "ws", "--no-starter")[0] == 0
    assert (mode(registry), mode(registry / "registry.db")) == (0o700, 0o600)


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("postgresql://user:pw@host:5432/db", "postgresql://user@host:5432/db"),
        ("postgresql://user@host/db?password=pw&sslmode=require", "postgresql://user@host/db?sslmode=require"),
        ("postgresql://user:p%40ss@host/db", "postgresql://user@host/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("sqlite:////abs/registry.db", "sqlite:////abs/registry.db"),
    ],
)
def test_without_password(url, stripped):
    assert without_password(url) == stripped
    assert has_password(url) == (url != stripped)


def test_an_export_leaves_out_who_trained_it_unless_asked(trained_workspace, tmp_path, capsys):
    run_id = trained_workspace.run_id
    code, out, _ = cli(capsys, "runs", "show", run_id, "--json")
    user = json.loads(out)["user"]  # recorded in the registry: os_user, git name and e-mail
    assert code == 0 and user["os_user"]
    assert cli(capsys, "export", run_id, "--out", tmp_path / "shared", "--no-sign")[0] == 0
    assert cli(capsys, "export", run_id, "--out", tmp_path / "own", "--no-sign", "--include-personal")[0] == 0
    shared, own = (json.loads((tmp_path / name / "run.json").read_text()) for name in ("shared", "own"))
    assert "user" not in shared and "config_path" not in shared
    assert all("path" not in c and "state_path" not in c for c in shared["checkpoints"])
    assert own["user"] == user and own["checkpoints"][0]["path"]
    everything = "".join(p.read_text() for p in (tmp_path / "shared").iterdir() if p.suffix in (".json", ".md"))
    assert str(Path.home()) not in everything and str(trained_workspace.workspace.root) not in everything
    for value in (user.get("git_name"), user.get("git_email"), f'"{user["os_user"]}"'):
        assert not value or value not in everything
    card = (tmp_path / "own" / "MODEL_CARD.md").read_text()
    assert (user.get("git_email") or user["os_user"]) in card


def test_init_inside_another_repository_never_touches_its_index(tmp_path, capsys, monkeypatch):
    import subprocess

    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "README").write_text("a project\n")
    code, out, err = cli(capsys, "init", project / "my-ws")
    assert code == 0, err
    assert "of its own" in " ".join(out.split())
    staged = subprocess.run(
        ["git", "-C", str(project), "diff", "--cached", "--name-only"], capture_output=True, text=True
    )
    assert staged.stdout == ""  # nothing of the workspace in the project's index
    status = subprocess.run(["git", "-C", str(project), "status", "--porcelain"], capture_output=True, text=True)
    assert sorted(status.stdout.splitlines()) == ["?? README", "?? my-ws/"]
