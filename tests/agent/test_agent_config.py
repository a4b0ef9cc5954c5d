"""The agent's configuration file: defaults, one-line errors, exit status 2."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetwise.agent import config as config_module
from fleetwise.agent.config import load_config, parse_config
from fleetwise.cli.main import main
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import InputError
from fleetwise.service.clock import VirtualClock
from fleetwise.service.manager import ServiceRunner
from tests.helpers.agent import TOKEN, FakeController, config_for, make_agent, two_host_fleet

MINIMAL = {
    "host": "compute1",
    "controller_url": "http://127.0.0.1:8080",
    "agent_token": TOKEN,
    "state_dir": "/var/lib/fleetwise-agent",
    "hypervisor": {"kind": "libvirt", "uri": "qemu:///system"},
}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.intervals.collect_s == 300.0
    assert config.intervals.heartbeat_s == 30.0
    assert config.intervals.assignment_poll_s == 5.0
    assert config.history_length == 100
    assert config.local_manager.time_step_s == 300.0
    assert config.hypervisor.kind == "libvirt"
    assert config.token() == TOKEN
    assert TOKEN not in repr(config)


def test_the_documented_example_is_valid_and_shows_the_defaults() -> None:
    doc = config_module.__doc__ or ""
    block = doc.split("::\n", 1)[1].split("\n\nEvery duration", 1)[0]
    example = yaml.safe_load(textwrap.dedent(block))
    del example["agent_token_file"]
    example["agent_token"] = TOKEN
    required = {k: example[k] for k in ("host", "controller_url", "state_dir", "agent_token")}
    bare = {**required, "hypervisor": {"kind": "libvirt"}}
    assert parse_config(example) == parse_config(bare)


def test_the_detectors_time_step_follows_the_collection_interval(tmp_path: Path) -> None:
    data = {
        **MINIMAL,
        "intervals": {"collect_s": 60},
        "local_manager": {"overload": {"name": "mad"}},
    }
    config = load_config(write(tmp_path, data))
    assert config.local_manager.time_step_s == 60.0
    assert config.local_manager.overload.name == "mad"


def test_token_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    data = {k: v for k, v in MINIMAL.items() if k != "agent_token"}
    config = load_config(write(tmp_path, {**data, "agent_token_file": str(token_file)}))
    assert config.token() == TOKEN


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": None}, "host: Input should be a valid string"),
        ({"controller_url": "not a url"}, "controller_url: Input should be a valid URL"),
        ({"hypervisor": {"kind": "xen"}}, "hypervisor: Input tag 'xen' found using 'kind'"),
        ({"intervals": {"collect_s": -5}}, "intervals.collect_s: Input should be greater than 0"),
        ({"intervals": "often"}, "intervals: Input should be a valid dictionary"),
        ({"hypervisor": {"kind": "simulated"}}, "hypervisor.simulated.fleet_path: Field required"),
        ({"history_lenght": 5}, "history_lenght: Extra inputs are not permitted"),
        ({"agent_token_file": "/x"}, "give exactly one of agent_token and agent_token_file"),
        ({"host": "-rf"}, "not a valid host name"),
        ({"local_manager": {"overload": {"name": "magic"}}}, "local_manager: unknown overload"),
        (
            {"local_manager": {"overload": {"name": "thr", "params": {"threshold": 7}}}},
            "local_manager: ",
        ),
        (
            {"local_manager": {"time_step_s": 10}},
            "local_manager.time_step_s must equal intervals.collect_s",
        ),
    ],
)
def test_bad_settings_give_one_clear_line(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(InputError) as caught:
        load_config(path)
    text = str(caught.value)
    assert message in text
    assert text.startswith(str(path)) and "\n" not in text


def test_missing_token_file_and_bad_yaml(tmp_path: Path) -> None:
    data = {k: v for k, v in MINIMAL.items() if k != "agent_token"}
    with pytest.raises(InputError, match="cannot read agent_token_file"):
        load_config(write(tmp_path, {**data, "agent_token_file": str(tmp_path / "nope")}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML at line"):
        load_config(bad)
    with pytest.raises(InputError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run ``fleetwise ARGS`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["fleetwise", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    out, err = capsys.readouterr()
    return int(caught.value.code or 0), out, err


def test_cli_bad_config_exits_2_with_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, {**MINIMAL, "intervals": {"heartbeat_s": "often"}})
    status, _out, err = run_cli(monkeypatch, capsys, "agent", "--config", str(path))
    assert status == 2
    assert err.splitlines() == [
        f"error: {path}: intervals.heartbeat_s: Input should be a valid number, "
        "unable to parse string as a number"
    ]


def test_cli_without_config_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _out, err = run_cli(monkeypatch, capsys, "agent")
    assert status == 2
    assert err.strip() == "error: fleetwise agent needs --config FILE"


def test_cli_sim_fleet_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.db"
    args = ["agent", "sim-fleet", "init", "--path", str(path), "--hosts", "2", "--vms", "5"]
    status, out, _err = run_cli(monkeypatch, capsys, *args, "--speedup", "50")
    assert status == 0
    assert out.splitlines()[:2] == ["host1: 3 VM(s)", "host2: 2 VM(s)"]
    fleet = SharedFleet.open(path)
    assert fleet.speedup() == 50.0
    fleet.close()
    status, _out, err = run_cli(monkeypatch, capsys, *args)
    assert status == 2 and err.startswith("error: ") and "already exists" in err
    status, _out, err = run_cli(
        monkeypatch, capsys, *args[:4], str(tmp_path / "x.db"), "--day", "1999"
    )
    assert status == 2 and "unknown day '1999'" in err


def test_the_token_never_reaches_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    controller = FakeController()
    controller.fail(".*", "connect", 500, 401)
    with caplog.at_level(logging.DEBUG):
        agent = make_agent(config_for(tmp_path), two_host_fleet(clock), clock, controller)
        runner = ServiceRunner([agent])
        runner.run_for(400)
        runner.shutdown()
    assert controller.routes(".*", answered_only=True)
    assert caplog.records
    assert TOKEN not in caplog.text


def test_state_dir_is_created_private(tmp_path: Path) -> None:
    clock = VirtualClock()
    state = tmp_path / "deep" / "state"
    make_agent(config_for(state), two_host_fleet(clock), clock, FakeController())
    assert state.stat().st_mode & 0o777 == 0o700


def test_uncreatable_state_dir_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    fleet = tmp_path / "fleet.db"
    init = ["agent", "sim-fleet", "init", "--path", str(fleet), "--hosts", "1", "--vms", "1"]
    assert run_cli(monkeypatch, capsys, *init)[0] == 0
    data = {
        **MINIMAL,
        "host": "host1",
        "state_dir": str(blocker / "state"),
        "hypervisor": {"kind": "simulated", "fleet_path": str(fleet)},
    }
    status, _out, err = run_cli(
        monkeypatch, capsys, "agent", "--config", str(write(tmp_path, data))
    )
    assert status == 2
    assert (
        err.splitlines()[-1]
        == f"error: cannot create state_dir {blocker / 'state'}: Not a directory"
    )


def test_secrets_readable_by_others_are_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fleetwise.agent.cli import _warn_of_exposed_secrets

    inline = write(tmp_path, MINIMAL)
    inline.chmod(0o644)
    token_file = tmp_path / "agent.token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o640)
    by_file = tmp_path / "by-file.yaml"
    by_file.write_text(
        yaml.safe_dump({**{k: v for k, v in MINIMAL.items() if k != "agent_token"},
                        "agent_token_file": str(token_file)})
    )  # fmt: skip
    by_file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        _warn_of_exposed_secrets(inline, load_config(inline))
        _warn_of_exposed_secrets(by_file, load_config(by_file))
        inline.chmod(0o600)
        token_file.chmod(0o600)
        _warn_of_exposed_secrets(inline, load_config(inline))
        _warn_of_exposed_secrets(by_file, load_config(by_file))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "which holds agent_token" in messages[0] and f"chmod 600 {inline}" in messages[0]
    assert f"the agent token file {token_file} is readable by others" in messages[1]
    assert TOKEN not in caplog.text
