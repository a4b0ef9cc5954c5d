"""The controller's state on disk: private by default, one-line errors, exposure warnings."""

from __future__ import annotations

import io
import logging
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from fleetwise.cli.main import main
from fleetwise.controller.config import load_config
from fleetwise.controller.runtime import prepare_state
from fleetwise.errors import ParameterError
from fleetwise.store import database
from fleetwise.store.database import sqlite_url, upgrade
from fleetwise.store.repository import Store
from tests.helpers.controller import token_hashes


def _config(tmp_path: Path, extra: str = "", mode: int = 0o600) -> Path:
    admin, _ = token_hashes()
    path = tmp_path / "controller.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\nadmin_token_hash: '{admin}'\n{extra}", encoding="utf-8"
    )
    path.chmod(mode)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["fleetwise", *args])
    monkeypatch.setattr(sys, "stderr", err)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, err.getvalue()


def test_state_dir_and_database_are_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _config(tmp_path)
    settings = load_config(path)
    with caplog.at_level(logging.WARNING):
        prepare_state(settings, path)
        Store.open(settings.database).close()
        prepare_state(settings, path)  # a second start finds everything private
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "controller.db") == 0o600
    assert caplog.records == []


def test_looser_state_and_exposed_secrets_are_warned_of_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ipmi = "power_default: {driver: ipmi, address: bmc1, username: admin, password: hunter22}\n"
    path = _config(tmp_path, ipmi, mode=0o644)
    (tmp_path / "state").mkdir(mode=0o755)
    (tmp_path / "state").chmod(0o755)
    settings = load_config(path)
    with caplog.at_level(logging.WARNING):
        prepare_state(settings, path)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "power_default.password" in messages[0] and f"chmod 600 {path}" in messages[0]
    assert f"chmod 700 {tmp_path / 'state'}" in messages[1]
    assert "hunter22" not in " ".join(messages)
    assert _mode(tmp_path / "state") == 0o755  # warned of, not changed


def test_uncreatable_state_dir_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    admin, _ = token_hashes()
    path = tmp_path / "controller.yaml"
    path.write_text(f"state_dir: {blocker / 'state'}\nadmin_token_hash: '{admin}'\n")
    code, err = _run_cli(monkeypatch, ["controller", "--config", str(path)])
    assert code == 2
    assert err == f"error: cannot create state_dir {blocker / 'state'}: Not a directory\n"


def test_postgresql_without_its_driver_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "driver_installed", lambda module: module != "psycopg")
    path = _config(tmp_path, "database_url: postgresql://fleetwise@db.example/fleetwise\n")
    code, err = _run_cli(monkeypatch, ["controller", "--config", str(path)])
    assert code == 2
    assert err.splitlines() == [
        "error: the database is PostgreSQL but its driver is not installed: "
        "pip install 'fleetwise[postgres]'"
    ]


def test_a_database_of_a_newer_fleetwise_is_refused_unchanged(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "x.db")
    upgrade(url)
    with sqlite3.connect(tmp_path / "x.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00d'")
    before = (tmp_path / "x.db").read_bytes()
    with pytest.raises(ParameterError, match="revision 'f00d', newer than this fleetwise"):
        Store.open(url)
    assert (tmp_path / "x.db").read_bytes() == before
