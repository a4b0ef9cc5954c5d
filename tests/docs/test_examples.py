"""The deployment examples (examples/), the systemd units (contrib/systemd/) and what
docs/operations.md says about them hold for the code as it is.

Example configurations are loaded through the product's own loaders. Paths that must
exist when a file loads (token files, a simulated fleet) are moved into a temporary
directory first; nothing else is changed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from fleetwise.agent.config import (
    AgentConfig,
    HttpSettings,
    Intervals,
    LibvirtSettings,
)
from fleetwise.agent.config import load_config as load_agent_config
from fleetwise.agent.sim_fleet import FleetPlan, create_fleet
from fleetwise.controller.cli import app as controller_app
from fleetwise.controller.config import (
    ControllerConfig,
    IpmiPower,
    MetricsConfig,
    WolCommandPower,
)
from fleetwise.controller.config import load_config as load_controller_config
from fleetwise.controller.power import ConfiguredPower
from fleetwise.controller.tokens import TokenHash
from fleetwise.core.global_manager import GlobalManagerConfig
from fleetwise.core.local_manager import LocalManagerConfig
from fleetwise.core.placement import PLACEMENT
from fleetwise.store.database import normalise_url

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
UNITS = ROOT / "contrib" / "systemd"
OPERATIONS = ROOT / "docs" / "operations.md"

PLACEHOLDER = "REPLACE-ME"
SIM_DIR = "/var/tmp/fleetwise-sim"
AGENT_TOKEN_FILE = "/etc/fleetwise/agent.token"

CONTROLLER_EXAMPLES = ("controller.yaml", "controller-postgres.yaml", "controller-simulated.yaml")
AGENT_EXAMPLES = ("agent-libvirt.yaml", "agent-simulated.yaml")
UNIT_FILES = ("fleetwise-controller.service", "fleetwise-agent.service")


def localised(name: str, tmp_path: Path) -> Path:
    """A copy of example ``name`` whose must-exist paths point into ``tmp_path``."""
    sim = tmp_path / "sim"
    (sim / "tokens").mkdir(parents=True, exist_ok=True)
    if not (sim / "fleet.db").exists():
        create_fleet(sim / "fleet.db", FleetPlan(hosts=3, vms=0, day="20110303")).close()
    (sim / "tokens" / "host1").write_text("a-token-of-host1-for-the-test\n")
    token = tmp_path / "agent.token"
    token.write_text("a-token-of-node1-for-the-test\n")
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    text = text.replace(SIM_DIR, str(sim)).replace(AGENT_TOKEN_FILE, str(token))
    copy = tmp_path / name
    copy.write_text(text, encoding="utf-8")
    return copy


def raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


# -- the examples load --------------------------------------------------------------------


def test_every_example_is_checked_here() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir()) == sorted(
        CONTROLLER_EXAMPLES + AGENT_EXAMPLES
    )
    assert sorted(p.name for p in UNITS.iterdir()) == sorted(UNIT_FILES)


@pytest.mark.parametrize("name", CONTROLLER_EXAMPLES)
def test_controller_examples_load(name: str, tmp_path: Path) -> None:
    config = load_controller_config(localised(name, tmp_path))
    assert config.listen.host == "127.0.0.1"  # behind the reverse proxy
    assert config.hosts, "an example without hosts admits no agent"
    assert all(h.token_hash for h in config.hosts)
    power = ConfiguredPower(config, lambda host: "52:54:00:00:00:99")
    try:
        for host in config.hosts:
            assert power.driver_for(host.name) is not None, host.name
    finally:
        power.close()


@pytest.mark.parametrize("name", AGENT_EXAMPLES)
def test_agent_examples_load(name: str, tmp_path: Path) -> None:
    config = load_agent_config(localised(name, tmp_path))
    assert config.agent_token_file is not None and config.agent_token is None
    assert config.token()


def test_every_agent_of_the_simulated_example_is_known_to_its_controller(
    tmp_path: Path,
) -> None:
    controller = load_controller_config(localised("controller-simulated.yaml", tmp_path))
    agent = load_agent_config(localised("agent-simulated.yaml", tmp_path))
    assert controller.host(agent.host) is not None
    assert str(agent.controller_url).rstrip("/") == (
        f"http://{controller.listen.host}:{controller.listen.port}"
    )
    assert agent.hypervisor.kind == "simulated"
    power = controller.power_default
    assert power is not None and power.driver == "shared-fleet"
    assert agent.hypervisor.fleet_path == power.fleet_path


def test_the_postgres_example_uses_psycopg(tmp_path: Path) -> None:
    config = load_controller_config(localised("controller-postgres.yaml", tmp_path))
    url = normalise_url(config.database)
    assert url.drivername == "postgresql+psycopg"
    assert url.password == PLACEHOLDER


def test_the_sqlite_example_keeps_its_database_in_the_state_dir(tmp_path: Path) -> None:
    config = load_controller_config(localised("controller.yaml", tmp_path))
    assert config.database == f"sqlite:///{config.state_dir}/controller.db"


# -- the complete examples show every key, with the defaults -------------------------------


def test_controller_yaml_shows_every_key() -> None:
    data = raw("controller.yaml")
    assert set(data) == fields(ControllerConfig)
    assert set(data["global_manager"]) == fields(GlobalManagerConfig)
    assert set(data["metrics"]) == fields(MetricsConfig)
    powers = {h["power"]["driver"]: h["power"] for h in data["hosts"]}
    full_wol = max((h["power"] for h in data["hosts"] if "mac" in h["power"]), key=len)
    assert set(full_wol) == fields(WolCommandPower)
    assert set(powers["ipmi"]) == fields(IpmiPower)


def test_agent_libvirt_yaml_shows_every_key() -> None:
    data = raw("agent-libvirt.yaml")
    assert set(data) == fields(AgentConfig) - {"agent_token"}  # the file's alternative
    assert set(data["hypervisor"]) == fields(LibvirtSettings)
    assert set(data["intervals"]) == fields(Intervals)
    assert set(data["http"]) == fields(HttpSettings)
    # time_step_s follows intervals.collect_s unless given
    assert set(data["local_manager"]) == fields(LocalManagerConfig) - {"time_step_s"}


CONTROLLER_EXAMPLE_VALUES = {"admin_token_hash", "hosts", "power_model_default"}
AGENT_EXAMPLE_VALUES = {"host", "controller_url", "agent_token_file", "state_dir", "mac"}


def test_controller_yaml_values_are_the_defaults_but_the_examples(tmp_path: Path) -> None:
    config = load_controller_config(localised("controller.yaml", tmp_path))
    for name, info in ControllerConfig.model_fields.items():
        if name in CONTROLLER_EXAMPLE_VALUES | {"global_manager"}:
            continue
        default = info.get_default(call_default_factory=True)
        assert getattr(config, name) == default, name
    shown, default_gm = config.global_manager, GlobalManagerConfig()
    assert shown.model_dump(exclude={"placement"}) == default_gm.model_dump(exclude={"placement"})
    # the example spells out every parameter of the placement, the default only some
    assert shown.placement.name == default_gm.placement.name
    assert PLACEMENT.params(shown.placement.name, shown.placement.params) == PLACEMENT.params(
        default_gm.placement.name, default_gm.placement.params
    )


def test_agent_libvirt_yaml_values_are_the_defaults_but_the_examples(tmp_path: Path) -> None:
    config = load_agent_config(localised("agent-libvirt.yaml", tmp_path))
    for name, info in AgentConfig.model_fields.items():
        if name in AGENT_EXAMPLE_VALUES | {"agent_token", "hypervisor"}:
            continue
        default = info.get_default(call_default_factory=True)
        assert getattr(config, name) == default, name
    hypervisor = config.hypervisor
    assert isinstance(hypervisor, LibvirtSettings)
    assert hypervisor.uri == "qemu:///system"
    assert hypervisor.allow_unsafe is False
    assert hypervisor.core_mhz is None


def test_no_example_carries_a_real_secret() -> None:
    for name in CONTROLLER_EXAMPLES:
        data = raw(name)
        assert PLACEHOLDER in data["admin_token_hash"], name
        for host in data["hosts"]:
            assert PLACEHOLDER in host["token_hash"], (name, host["name"])
            power = host.get("power") or {}
            if "password" in power:
                assert power["password"] == PLACEHOLDER, (name, host["name"])


# -- tokens as the documentation makes them -------------------------------------------------


def test_hash_token_generate_prints_what_the_documentation_extracts(tmp_path: Path) -> None:
    result = CliRunner().invoke(controller_app, ["hash-token", "--generate"])
    assert result.exit_code == 0, result.output
    # docs/operations.md: awk '$1 == "token:" {print $2}' and '$1 == "hash:" {print $2}'
    columns = {line.split()[0]: line.split()[1] for line in result.output.splitlines()}
    token, hashed = columns["token:"], columns["hash:"]
    assert TokenHash.parse(hashed).verify(token)
    text = (EXAMPLES / "controller.yaml").read_text(encoding="utf-8")
    placeholder = raw("controller.yaml")["admin_token_hash"]
    (tmp_path / "c.yaml").write_text(text.replace(placeholder, hashed, 1), encoding="utf-8")
    config = load_controller_config(tmp_path / "c.yaml")
    assert TokenHash.parse(config.admin_token_hash).verify(token)


def test_hash_token_hashes_a_token_from_stdin() -> None:
    token = "an-existing-token-of-some-length"
    result = CliRunner().invoke(controller_app, ["hash-token"], input=token + "\n")
    assert result.exit_code == 0, result.output
    assert TokenHash.parse(result.output.strip()).verify(token)


# -- systemd units ---------------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections → key → values (systemd allows a key more than once)."""
    unit: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        assert not stripped.endswith("\\"), f"{path.name}:{number}: no continuation lines"
        if stripped.startswith("[") and stripped.endswith("]"):
            section = unit.setdefault(stripped[1:-1], {})
            continue
        key, sep, value = stripped.partition("=")
        assert sep and key == key.strip() and key.isalnum(), f"{path.name}:{number}: {line!r}"
        assert section is not None, f"{path.name}:{number}: a key outside any section"
        section.setdefault(key, []).append(value)
    return unit


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def environment(unit: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    pairs = [p for line in unit["Service"].get("Environment", []) for p in shlex.split(line)]
    return dict(p.split("=", 1) for p in pairs)


@pytest.mark.parametrize(
    ("unit_name", "role", "example"),
    [
        ("fleetwise-controller.service", "controller", "controller.yaml"),
        ("fleetwise-agent.service", "agent", "agent-libvirt.yaml"),
    ],
)
def test_units_run_the_product_hardened(
    unit_name: str, role: str, example: str, tmp_path: Path
) -> None:
    unit = read_unit(UNITS / unit_name)
    assert set(unit) == {"Unit", "Service", "Install"}
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    executable, *args = shlex.split(one(unit, "Service", "ExecStart"))
    assert Path(executable).is_absolute() and Path(executable).name == "fleetwise"
    assert args == [role, "--config", f"/etc/fleetwise/{role}.yaml"]
    expected = {
        "User": "fleetwise",
        "Group": "fleetwise",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "UMask": "0077",
        "StateDirectoryMode": "0700",
        "CacheDirectoryMode": "0700",
        "CapabilityBoundingSet": "",
        "Restart": "on-failure",
    }
    for key, value in expected.items():
        assert one(unit, "Service", key) == value, key
    # numba compiles code at run time
    assert "MemoryDenyWriteExecute" not in unit["Service"]
    # the state directory systemd makes is the one the example configuration uses
    state_dir = Path("/var/lib") / one(unit, "Service", "StateDirectory")
    if role == "controller":
        assert load_controller_config(localised(example, tmp_path)).state_dir == state_dir
    else:
        agent = load_agent_config(localised(example, tmp_path))
        assert agent.state_dir == state_dir
        assert raw(example)["agent_token_file"] == AGENT_TOKEN_FILE
        assert one(unit, "Service", "SupplementaryGroups") == "libvirt"
    cache_dir = Path("/var/cache") / one(unit, "Service", "CacheDirectory")
    assert environment(unit)["NUMBA_CACHE_DIR"] == str(cache_dir)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    fleetwise = Path(sys.executable).with_name("fleetwise")
    if not fleetwise.exists():
        pytest.skip(f"no fleetwise script next to {sys.executable}")
    copies = []
    for name in UNIT_FILES:
        text = (UNITS / name).read_text(encoding="utf-8")
        copy = tmp_path / name
        copy.write_text(text.replace("/opt/fleetwise/bin/fleetwise", str(fleetwise)))
        copies.append(str(copy))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *copies],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for problem in ("Unknown key", "Unknown section", "Failed to parse", "Invalid"):
        assert problem not in output, output


# -- the page documents them -----------------------------------------------------------------


def test_operations_page_names_every_example_and_unit() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for name in CONTROLLER_EXAMPLES + AGENT_EXAMPLES + UNIT_FILES:
        assert name in text, name
    assert "fleetwise controller hash-token --generate" in text
