"""The lab's parts: shape validation, its files, process identities, patience, settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleetwise.errors import InputError, ParameterError
from fleetwise.lab.control import ProcessStatus, Up
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.patience import Patience
from fleetwise.lab.pids import ProcessId, alive, identify, send_signal
from fleetwise.lab.record import (
    LabProcess,
    LabRecord,
    LabShape,
    load_record,
    read_token,
    save_record,
    write_env,
)
from fleetwise.lab.settings import agent_settings, controller_settings
from fleetwise.lab.views import status_json, up_message


def test_shape_defaults_and_one_line_errors_naming_the_option() -> None:
    assert LabShape.of() == LabShape(hosts=3, vms=6, day="20110303", speedup=300.0)
    assert LabShape.of(hosts=5).vms == 10
    assert LabShape.of(hosts=5, vms=0).vms == 0
    for kwargs, message in [
        ({"hosts": 0}, "--hosts: Input should be greater than or equal to 1"),
        ({"hosts": 51}, "--hosts: Input should be less than or equal to 50"),
        ({"speedup": 0.5}, "--speedup: Input should be greater than or equal to 1"),
        ({"speedup": float("nan")}, "--speedup: Input should be a finite number"),
        ({"vms": -1}, "--vms: Input should be greater than or equal to 0"),
    ]:
        with pytest.raises(ParameterError) as caught:
            LabShape.of(**kwargs)  # type: ignore[arg-type]
        assert str(caught.value) == message


def _record(url: str = "http://127.0.0.1:1") -> LabRecord:
    controller = LabProcess(name="controller", role="controller", command=("x",), log="l/c.log")
    agent = LabProcess(name="host1", role="agent", host="host1", command=("y",), log="l/h.log")
    return LabRecord(url=url, shape=LabShape.of(hosts=1), processes=(controller, agent))


def test_record_and_env_files_are_private_and_read_back(tmp_path: Path) -> None:
    paths = LabPaths.of(tmp_path / "lab")
    assert paths.create() is True
    assert paths.root.stat().st_mode & 0o777 == 0o700
    assert load_record(paths) is None
    record = _record()
    save_record(paths, record)
    write_env(paths, record.url, "tok'en with $pace")
    assert load_record(paths) == record
    assert read_token(paths) == "tok'en with $pace"
    for path in (paths.record, paths.env):
        assert path.stat().st_mode & 0o777 == 0o600
    # lab.env works in a shell
    shell = f'. {paths.env} && printf %s "$FLEETWISE_TOKEN|$FLEETWISE_URL|$FLEETWISE_LAB_DIR"'
    out = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True).stdout
    assert out == f"tok'en with $pace|{record.url}|{paths.root}"
    paths.record.write_text("{not json")
    with pytest.raises(InputError, match="is not a lab record"):
        load_record(paths)


def test_a_record_names_its_processes() -> None:
    record = _record()
    assert record.process("host1").host == "host1"
    with pytest.raises(InputError) as caught:
        record.process("host9")
    assert str(caught.value) == "the lab has no process 'host9'; its processes: controller, host1"
    started = record.process("host1").model_copy(update={"pid": 42})
    assert record.replaced(started).process("host1").pid == 42
    assert record.process("host1").pid is None


def test_the_state_directory_must_be_a_writable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot create the state directory"):
        LabPaths.of(blocker / "lab").create()
    paths = LabPaths.of(tmp_path / "lab")
    paths.create()
    with (
        paths.locked(),
        pytest.raises(InputError, match="another fleetwise lab command"),
        paths.locked(),
    ):
        pass
    assert paths.is_empty()  # the lock leaves nothing behind


def test_process_identity_survives_only_as_long_as_the_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        me = identify(child.pid)
        assert alive(me)
        assert not alive(ProcessId(child.pid, (me.start_ticks or 0) + 1))  # a reused pid
        assert not send_signal(ProcessId(child.pid, (me.start_ticks or 0) + 1), 9)
        assert send_signal(me, 15)
        child.wait(10)
        assert not alive(me)
        assert not send_signal(me, 15)
    finally:
        child.kill()
        child.wait()


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    me = identify(child.pid)
    # not reaped yet: a zombie once it has exited
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        pass
    assert not alive(me)
    child.wait()


def test_patience_runs_out_only_after_a_window_without_news() -> None:
    now = [0.0]
    patience = Patience(10.0, clock=lambda: now[0])
    now[0] = 9.0
    assert not patience.expired()
    assert patience.saw("controller up")
    assert not patience.saw("controller up")  # seen before: no news
    now[0] = 18.0
    assert not patience.expired()
    now[0] = 19.0
    assert patience.expired()


def test_agents_collect_once_per_trace_step_of_simulated_time() -> None:
    assert agent_settings(300.0)["intervals"] == {
        "collect_s": 1.0,
        "heartbeat_s": 5.0,
        "assignment_poll_s": 1.0,
        "delivery_s": 1.0,
    }
    assert agent_settings(1.0)["intervals"]["collect_s"] == 300.0
    fast, real_time = (controller_settings(LabShape.of(speedup=s)) for s in (300.0, 1.0))
    assert fast["staleness_window_s"] == 30.0 and real_time["staleness_window_s"] == 900.0
    assert fast["wake_timeout_s"] == 60.0 and real_time["wake_timeout_s"] == 180.0


def test_status_json_has_its_documented_fields(tmp_path: Path) -> None:
    paths = LabPaths.of(tmp_path)
    rows = [
        ProcessStatus("controller", "controller", None, 10, True, tmp_path / "logs/c.log"),
        ProcessStatus("host1", "agent", "host1", None, False, tmp_path / "logs/h.log"),
    ]
    data = json.loads(json.dumps(status_json(paths, _record("http://u"), rows)))
    assert data == {
        "state_dir": str(tmp_path),
        "url": "http://u",
        "env_file": str(tmp_path / "lab.env"),
        "speedup": 300.0,
        "processes": [
            {
                "name": "controller",
                "role": "controller",
                "host": None,
                "pid": 10,
                "alive": True,
                "log": str(tmp_path / "logs/c.log"),
            },
            {
                "name": "host1",
                "role": "agent",
                "host": "host1",
                "pid": None,
                "alive": False,
                "log": str(tmp_path / "logs/h.log"),
            },
        ],
    }


def test_up_message_says_how_to_use_the_lab(tmp_path: Path) -> None:
    paths = LabPaths.of(tmp_path)
    up = Up(_record("http://u"), False, 1.5, {"controller": "answers", "host1": "asleep"})
    text = "\n".join(up_message(paths, up))
    assert "a controller and 1 agent up in 1.5 s" in text
    assert "URL[/]: http://u" in text
    assert f"source {tmp_path}/lab.env" in text
    assert "asleep[/]: host1" in text
