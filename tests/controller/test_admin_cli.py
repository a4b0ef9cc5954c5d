"""``fleetwise hosts|vms|stats`` and the admin commands' errors, against a real
controller process over loopback (see ``tests/helpers/admin_cli.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwise import __version__
from tests.helpers.admin_cli import AdminFleet, admin_fleet, fields, one_error_line, shown
from tests.helpers.controller import ADMIN_TOKEN, free_port, vm_uuid

LAYOUT = {"h1": {1: 500.0, 2: 300.0}, "h2": {3: 900.0}, "h3": {}}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminFleet]:
    with admin_fleet(tmp_path_factory.mktemp("admin-cli"), LAYOUT) as running:
        yield running


def row(out: str, first: str) -> list[str]:
    """The words of the table row whose first cell is ``first``."""
    (found,) = [line.split() for line in out.splitlines() if line.split()[:1] == [first]]
    return found


def test_version_is_the_package_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fleetwise", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"fleetwise {__version__}\n",
        "",
    )


def test_hosts_list_shows_every_host_and_its_status(fleet: AdminFleet) -> None:
    out = fleet.out("hosts", "list", columns=80)
    assert out.splitlines()[0].strip() == "3 hosts"
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    for host in fleet.api("GET", "/v1/hosts"):
        cells = row(out, host["name"])
        assert cells[:4] == [host["name"], "active", "ok", str(host["vms"])]
        assert cells[4:6] == [f"{host['cpu_mhz']:.0f}", str(host["ram_mb"])]
        assert " ".join(cells[6:]) == shown(host["last_heartbeat"])


def test_hosts_show_is_a_readable_field_list(fleet: AdminFleet) -> None:
    out = fleet.out("hosts", "show", "h1")
    host = fleet.api("GET", "/v1/hosts/h1")
    assert out.splitlines()[0].strip() == "host h1"
    assert fields(out) == {
        "name": "h1",
        "power state": "active",
        "status": "ok",
        "maintenance": "no",
        "unreachable": "no",
        "quarantined": "no",
        "quarantine reason": "-",
        "VMs": "2",
        "CPU cores": "4",
        "core MHz": "2000",
        "CPU MHz": "8000",
        "RAM MB": "8192",
        "hypervisor URI": "qemu+tcp://h1/system",
        "migration URI": "-",
        "registered": shown(host["registered_at"]),
        "last heartbeat": shown(host["last_heartbeat"]),
    }


def test_vms_list_keeps_every_uuid_whole_at_80_columns(fleet: AdminFleet) -> None:
    out = fleet.out("vms", "list", columns=80)
    lines = out.splitlines()
    assert lines[0].strip() == "3 VMs"
    assert max(len(line.rstrip()) for line in lines) <= 80
    for vm in fleet.api("GET", "/v1/vms"):
        cells = row(out, vm["uuid"])
        cpu = f"{vm['cpu_mhz']:.0f}"
        assert cells == [vm["uuid"], vm["name"], vm["host"], "running", "1", "1024", cpu]


def test_vms_show_gives_every_field(fleet: AdminFleet) -> None:
    uuid = vm_uuid(3)
    out = fleet.out("vms", "show", uuid, columns=80)
    vm = fleet.api("GET", f"/v1/vms/{uuid}")
    assert out.splitlines()[0].strip() == f"VM {uuid}"
    assert fields(out) == {
        "uuid": uuid,
        "name": "vm3",
        "host": "h2",
        "state": "running",
        "vCPUs": "1",
        "RAM MB": "1024",
        "CPU MHz": "900",
        "capacity MHz": "2000",
        "located": shown(vm["located_at"]),
        "reported": shown(vm["reported_at"]),
    }


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("hosts", "list"), "/v1/hosts"),
        (("hosts", "show", "h2"), "/v1/hosts/h2"),
        (("vms", "list"), "/v1/vms"),
        (("vms", "list", "--host", "h1"), "/v1/vms?host=h1"),
        (("vms", "show", vm_uuid(1)), f"/v1/vms/{vm_uuid(1)}"),
        (("plans", "list"), "/v1/plans"),
        (("migrations", "list"), "/v1/migrations"),
    ],
)
def test_json_is_the_api_body(fleet: AdminFleet, args: tuple[str, ...], path: str) -> None:
    assert fleet.json(*args) == fleet.api("GET", path)


@pytest.mark.parametrize(
    ("args", "title"),
    [
        (("vms", "list", "--host", "h2"), "1 VM"),
        (("vms", "list", "--host", "h1"), "2 VMs"),
        (("vms", "list", "--host", "h3"), "0 VMs"),
        (("plans", "list"), "0 plans"),
        (("migrations", "list"), "0 migrations"),
    ],
)
def test_titles_count_in_words(fleet: AdminFleet, args: tuple[str, ...], title: str) -> None:
    assert fleet.out(*args).splitlines()[0].strip() == title


def test_stats_shows_the_fleet_figures(fleet: AdminFleet) -> None:
    body = fleet.json("stats")
    api = fleet.api("GET", "/v1/stats")
    assert list(body) == list(api)
    steady = ("hosts_by_state", "hosts_unreachable", "hosts_quarantined", "vms", "migrations_total")
    assert {k: body[k] for k in steady} == {k: api[k] for k in steady}
    assert body["hosts_by_state"]["active"] == 3 and body["vms"] == 3
    out = fleet.out("stats", columns=80)
    assert out.splitlines()[0].strip() == "fleet: 3 hosts, 3 VMs"
    shown_fields = fields(out)
    assert {k: shown_fields[k] for k in ("hosts active", "hosts asleep", "VMs")} == {
        "hosts active": "3",
        "hosts asleep": "0",
        "VMs": "3",
    }
    assert shown_fields["hosts unreachable"] == shown_fields["hosts quarantined"] == "0"
    assert shown_fields["migrations started"] == "0"
    assert re.fullmatch(r"\d+\.\d\d% \(.+\)", shown_fields["AOTF"])
    assert re.fullmatch(r"\d+\.\d{3} kWh", shown_fields["estimated energy"])


def test_maintenance_switches_on_and_off(fleet: AdminFleet) -> None:
    assert fleet.out("hosts", "maintenance", "h1", "on") == "h1: maintenance on\n"
    listing = fleet.out("hosts", "list")
    assert listing.splitlines()[0].strip() == "3 hosts (1 in maintenance)"
    assert row(listing, "h1")[2] == "maintenance"
    off = fleet.json("hosts", "maintenance", "h1", "off")
    assert off["maintenance"] is False and off == fleet.api("GET", "/v1/hosts/h1")


def test_evacuating_an_empty_host_says_there_is_nothing_to_drain(fleet: AdminFleet) -> None:
    try:
        out = fleet.out("hosts", "evacuate", "h3")
        assert out == "h3: maintenance on; it holds no VMs: nothing to drain\n"
    finally:
        fleet.api("POST", "/v1/hosts/h3/maintenance", {"on": False})


@pytest.mark.parametrize(
    ("args", "token", "status", "message"),
    [
        (("hosts", "list"), "wrong-token", 2, "401"),
        (("hosts", "show", "nope"), ADMIN_TOKEN, 2, "404 unknown host: nope"),
        (("hosts", "show", ""), ADMIN_TOKEN, 2, "a host name must not be empty"),
        (("hosts", "maintenance", "h1", "sideways"), ADMIN_TOKEN, 2, "'on' or 'off'"),
        (("plans", "approve", "999"), ADMIN_TOKEN, 2, "404"),
        (("vms", "list"), None, 2, "no admin token"),
        (("vms", "show", vm_uuid(99)), ADMIN_TOKEN, 2, f"404 unknown VM: {vm_uuid(99)}"),
        (("vms", "show", "nope", "--json"), ADMIN_TOKEN, 2, "422 uuid: is not a VM UUID"),
        (("plans", "show", "abc"), ADMIN_TOKEN, 2, "'plan_id'"),
        (("plans", "nope"), ADMIN_TOKEN, 2, "no such command 'nope'"),
        (("migrations", "resolve", "1"), ADMIN_TOKEN, 2, "missing option '--on'"),
        (("migrations", "list", "--since", "yesterday"), ADMIN_TOKEN, 2, "--since 'yesterday'"),
        (("stats", "--bogus"), ADMIN_TOKEN, 2, "no such option: --bogus"),
        (("hosts", "list", "--url", "foo"), ADMIN_TOKEN, 2, "invalid controller URL 'foo'"),
        (("vms", "list", "--token-file", "/nonexistent"), None, 2, "cannot read token file"),
        (
            ("hosts", "list", "--url", f"http://127.0.0.1:{free_port()}"),
            ADMIN_TOKEN,
            1,
            "cannot reach the controller",
        ),
    ],
)
def test_errors_are_one_line(
    fleet: AdminFleet, args: tuple[str, ...], token: str | None, status: int, message: str
) -> None:
    assert message in one_error_line(fleet.cli(*args, token=token), status)


def test_the_token_file_is_read(fleet: AdminFleet, tmp_path: Path) -> None:
    token_file = tmp_path / "admin.token"
    token_file.write_text(ADMIN_TOKEN + "\n", encoding="utf-8")
    result = fleet.cli("hosts", "list", "--token-file", str(token_file), token="wrong")
    assert result.returncode == 0, result.stderr
