"""Configuration, token hashing and the ``fleetwise controller`` command."""

from __future__ import annotations

import io
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import fleetwise.controller.config as config_module
from fleetwise.cli.main import main
from fleetwise.controller.auth import Authenticator, Principal
from fleetwise.controller.config import load_config
from fleetwise.controller.tokens import TokenHash, hash_token
from fleetwise.errors import ParameterError
from tests.helpers.controller import ADMIN_TOKEN, token_hashes


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controller.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    admin, _ = token_hashes()
    config = load_config(_write(tmp_path, f"state_dir: {tmp_path}\nadmin_token_hash: '{admin}'\n"))
    assert config.database == f"sqlite:///{tmp_path}/controller.db"
    assert (config.listen.host, config.listen.port) == ("127.0.0.1", 8750)
    assert config.mode == "automatic"
    assert (config.staleness_window_s, config.plan_round_spacing_s, config.plan_expiry_s) == (
        30,
        60,
        600,
    )
    caps = config.migration_caps
    assert (caps.total, caps.per_source, caps.per_destination) == (4, 1, 2)
    assert (config.max_attempts, config.wake_timeout_s, config.sample_retention_s) == (
        3,
        300,
        86_400,
    )
    assert config.power_default is None and config.hosts == []


def test_full_example_with_power_drivers(tmp_path: Path) -> None:
    admin, agents = token_hashes()
    text = f"""
admin_token_hash: '{admin}'
database_url: postgresql://fleetwise:secret@127.0.0.1/fleetwise
mode: recommend
global_manager: {{spare_hosts: 2, placement: {{name: bfd, params: {{cpu_threshold: 0.7}}}}}}
power_default: {{driver: simulated, wake_latency_s: 1}}
hosts:
  - name: h1
    token_hash: '{agents[0][1]}'
    power: {{driver: wol+command, mac: '52:54:00:12:34:56', sleep_command: 'ssh {{host}} true'}}
  - name: h2
    power: {{driver: ipmi, address: bmc-h2, username: root, password: hunter2hunter2}}
"""
    config = load_config(_write(tmp_path, text))
    assert config.mode == "recommend" and config.global_manager.spare_hosts == 2
    entry = config.host("h2")
    assert entry is not None and entry.power is not None and entry.power.driver == "ipmi"
    assert "hunter2" not in repr(config)
    assert set(config.agent_token_hashes()) == {"h1"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("admin_token_hash: [1, 2\n", "not valid YAML at line"),
        ("- a list\n", "must be a mapping"),
        ("mode: automatic\n", "admin_token_hash: field required"),
        ("admin_token_hash: sha1-of-something\n", "admin_token_hash: a token hash must look like"),
        ("admin_token_hash: {admin}\nmode: yolo\n", "mode: input should be 'automatic'"),
        ("admin_token_hash: {admin}\nnot_a_setting: 1\n", "not_a_setting: extra inputs"),
        ("admin_token_hash: {admin}\nplan_expiry_s: -5\n", "plan_expiry_s: input should be"),
        (
            "admin_token_hash: {admin}\nmigration_caps: {{per_source: 0}}\n",
            "migration_caps.per_source",
        ),
        (
            "admin_token_hash: {admin}\nhosts: [{{name: a}}, {{name: a}}]\n",
            "hosts listed twice: a",
        ),
        ("admin_token_hash: {admin}\nhosts: [{{name: '-x'}}]\n", "not a valid host name"),
        (
            "admin_token_hash: {admin}\nglobal_manager: {{placement: {{name: nope}}}}\n",
            "unknown placement algorithm 'nope'",
        ),
        (
            "admin_token_hash: {admin}\npower_default: {{driver: magic}}\n",
            "power_default: input tag 'magic'",
        ),
        ("admin_token_hash: {admin}\ndatabase_url: mysql://x/y\n", "unsupported database"),
        (
            "admin_token_hash: {admin}\nglobal_manager: {{placement: {{name: pabfd}}}}\n"
            "hosts: [{{name: a, power_model: {{name: hp-ml110-g5}}}}, {{name: b}}]\n",
            "placement 'pabfd' needs every host's power model: set power_model_default or a "
            "power_model on each host (missing on b)",
        ),
        (
            "admin_token_hash: {admin}\npower_model_default: {{name: hp-ml110-g5, idle_w: 3}}\n",
            "power_model_default: give exactly one of",
        ),
        (
            "admin_token_hash: {admin}\npower_model_default: {{name: unknown-box}}\n",
            "unknown power model 'unknown-box'",
        ),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    admin, _ = token_hashes()
    path = _write(tmp_path, text.format(admin=f"'{admin}'"))
    with pytest.raises(ParameterError) as caught:
        load_config(path)
    message = str(caught.value).lower()
    assert "\n" not in message and str(path).lower() in message
    assert needle.lower() in message, message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def _run_cli(
    monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str = ""
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "argv", ["fleetwise", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_bad_config_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _write(tmp_path, "mode: automatic\n")
    code, _, err = _run_cli(monkeypatch, ["controller", "--config", str(path)])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: config ")


def test_cli_without_config_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run_cli(monkeypatch, ["controller"])
    assert (code, err) == (
        2,
        "error: give the configuration file: fleetwise controller --config FILE\n",
    )


def test_cli_hash_token_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run_cli(monkeypatch, ["controller", "hash-token"], "my-long-secret-token\n")
    assert code == 0
    hashed = TokenHash.parse(out.strip())
    assert hashed.log2_n == 14
    assert hashed.verify("my-long-secret-token") and not hashed.verify("my-long-secret-tokeN")
    assert "my-long-secret-token" not in out


def test_cli_hash_token_refuses_short_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run_cli(monkeypatch, ["controller", "hash-token"], "short\n")
    assert code == 2 and "at least 16 characters" in err


def test_cli_generates_a_token_with_its_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run_cli(monkeypatch, ["controller", "hash-token", "--generate"])
    assert code == 0
    token_line, hash_line = out.splitlines()
    token = token_line.removeprefix("token: ")
    assert len(token) >= 40
    assert TokenHash.parse(hash_line.removeprefix("hash:").strip()).verify(token)


def test_hashes_are_salted_and_reparse_to_themselves() -> None:
    first, second = hash_token("the-same-token-twice"), hash_token("the-same-token-twice")
    assert str(first) != str(second)
    assert str(TokenHash.parse(str(first))) == str(first)


@pytest.mark.parametrize(
    "text",
    ["", "scrypt$14$8$1$abc", "scrypt$14$8$1$!!$!!", "scrypt$30$8$1$AAAAAAAAAAAA$" + "A" * 43],
)
def test_malformed_hashes_are_refused(text: str) -> None:
    with pytest.raises(ParameterError):
        TokenHash.parse(text)


def test_authenticator_identifies_principals_and_caches_results() -> None:
    strong_admin = hash_token(ADMIN_TOKEN)  # full cost: about 60 ms per check
    agents = {h: TokenHash.parse(d) for h, d in token_hashes()[1]}
    auth = Authenticator(strong_admin, agents)
    assert auth.authenticate(ADMIN_TOKEN) == Principal(None)
    started = time.perf_counter()
    for _ in range(50):
        assert auth.authenticate(ADMIN_TOKEN) == Principal(None)
    assert time.perf_counter() - started < 0.25  # far less than 50 scrypt computations
    assert auth.authenticate("agent-token-of-h3-for-tests", hint="h1") == Principal("h3")
    assert auth.authenticate("agent-token-of-h9-for-tests") is None
    assert auth.authenticate("agent-token-of-h9-for-tests") is None
    assert Principal("h3").may_act_for("h3") and not Principal("h3").may_act_for("h1")
    assert Principal(None).may_act_for("h1")


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    assert config_module.__doc__ is not None
    example = config_module.__doc__.split("::\n", 1)[1].split("\n\n", 1)[0]
    admin, _ = token_hashes()
    text = (
        "\n".join(line[4:] for line in example.splitlines())
        .replace("scrypt$14$8$1$...$...", admin)
        .replace("password: ...", "password: secret")
        .replace("<state_dir>", str(tmp_path))
    )
    config = load_config(_write(tmp_path, text))
    assert config.database == f"sqlite:///{tmp_path}/controller.db"
    assert [h.name for h in config.hosts] == ["node1", "node2"]


def test_power_models_come_from_the_host_else_the_default(tmp_path: Path) -> None:
    admin, _ = token_hashes()
    text = (
        f"admin_token_hash: '{admin}'\n"
        "global_manager: {placement: {name: pabfd}}\n"
        "power_model_default: {idle_w: 100, peak_w: 200, sleep_w: 5}\n"
        "hosts: [{name: a, power_model: {name: hp-ml110-g5, sleep_w: 9}}, {name: b}]\n"
    )
    config = load_config(_write(tmp_path, text))
    own, default = config.power_model("a"), config.power_model("b")
    assert own is not None and own.power(1.0) == 135 and own.sleep_w == 9
    assert default is not None and default.power(0.5) == 150 and default.sleep_w == 5
    assert config.power_model("unknown") == replace(default, name="unknown")
