"""The systemd unit and the configuration example ship in a state that works."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from netwatch.cli import build_parser
from netwatch.commands.record import CONFIG_KEYS, load_config, merge, retention_of

PACKAGING = Path(__file__).resolve().parents[3] / "packaging"
UNIT = PACKAGING / "netwatch-record.service"
EXAMPLE = PACKAGING / "netwatch-record.toml"


def _exec_start() -> list[str]:
    line = next(ln for ln in UNIT.read_text().splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.partition("=")[2])


def test_example_config_is_complete_and_valid() -> None:
    data = load_config(str(EXAMPLE))
    assert set(data) | {"read"} == set(CONFIG_KEYS)  # every setting shown (read commented)
    argv = _exec_start()[1:]
    argv[argv.index("--config") + 1] = str(EXAMPLE)
    args = build_parser().parse_args(argv)
    cfg = merge(args, data)
    assert cfg.store == "/var/lib/netwatch" and cfg.interface == "any" and cfg.dpi
    r = retention_of(cfg)
    assert r.max_age == 30 * 86400 and r.max_bytes == 10**10


def test_unit_runs_record_and_reloads_with_sighup() -> None:
    text = UNIT.read_text()
    assert _exec_start()[1] == "record"
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "RestartPreventExitStatus=2 74" in text
    assert "StateDirectory=netwatch" in text


def test_unit_verifies() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    got = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        ln
        for ln in (got.stdout + got.stderr).splitlines()
        if ln.strip() and "is not executable" not in ln  # netwatch is elsewhere here
    ]
    assert not problems, problems


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('stroe = "/x"\n')
    from netwatch.errors import UsageError

    with pytest.raises(UsageError, match="unknown setting 'stroe'"):
        load_config(str(bad))
    bad.write_text("retain = 30\n")
    with pytest.raises(UsageError, match="retain must be a string"):
        load_config(str(bad))
    bad.write_text('dpi = "no"\n')
    with pytest.raises(UsageError, match="dpi must be a boolean"):
        load_config(str(bad))
    bad.write_text("store = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(str(bad))


def test_command_line_source_replaces_the_files(tmp_path: Path) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text('interface = "eth0"\nstore = "/x"\n')
    args = build_parser().parse_args(["record", "-r", "a.pcap", "--config", str(cfg)])
    got = merge(args, load_config(str(cfg)))
    assert (got.read, got.interface, got.store) == ("a.pcap", None, "/x")
    args = build_parser().parse_args(["record", "-i", "lo", "--store", "/y"])
    got = merge(args, {"read": "b.pcap"})
    assert (got.read, got.interface, got.store) == (None, "lo", "/y")
    from netwatch.errors import UsageError

    with pytest.raises(UsageError, match="both"):
        merge(args, {"read": "b.pcap", "interface": "eth0"})
