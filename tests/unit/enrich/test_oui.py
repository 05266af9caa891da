"""MAC vendors: the bundled IEEE table, block sizes, flag bits, and the build script."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.enrich import oui
from netwatch.enrich.oui import is_local, normalise, parse_table, vendor

REPO = Path(__file__).resolve().parents[3]
IEEE_DATA = Path("/usr/share/ieee-data")  # Debian's ieee-data package, when installed


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_oui", REPO / "scripts/update-oui.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["update_oui"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    ("mac", "expected"),
    [
        ("00:0c:29:12:34:56", "VMware, Inc."),  # MA-L
        ("B8-27-EB-00-00-01", "Raspberry Pi Foundation"),  # MA-L, dashes, upper case
        ("0800.2712.3456", "PCS Systemtechnik GmbH"),  # Cisco dotted form (VirtualBox NICs)
        ("000000aabbcc", "XEROX CORPORATION"),  # bare hex
        ("20:85:93:b0:00:01", "IOG Products LLC"),  # MA-M 208593B inside an IEEE MA-L
        ("70:b3:d5:f2:f0:01", "TELEPLATFORMS"),  # MA-S 70B3D5F2F
        ("70:b3:d5:71:90:01", "2M Technology"),  # MA-S 70B3D5719
    ],
)
def test_known_vendors(mac: str, expected: str) -> None:
    assert vendor(mac) == expected


def test_longest_prefix_wins_and_private_falls_back() -> None:
    table = oui._table()
    assert table["70B3D5"] == "IEEE Registration Authority"
    assert table["70B3D5F2F"] == "TELEPLATFORMS"
    # 741AE09 is listed as "Private": the enclosing MA-L holder answers instead
    assert "741AE09" not in table
    assert vendor("74:1a:e0:90:00:01") == table["741AE0"]


def test_no_vendor_for_local_group_or_invalid() -> None:
    assert vendor("52:54:00:12:34:56") is None  # QEMU's locally administered range
    assert is_local("52:54:00:12:34:56") and not is_local("00:0c:29:12:34:56")
    assert vendor("02:42:ac:11:00:02") is None  # a Docker bridge MAC
    assert vendor("01:00:5e:00:00:fb") is None  # IPv4 multicast (I/G bit)
    assert vendor("ff:ff:ff:ff:ff:ff") is None
    assert vendor("33:33:00:00:00:01") is None
    for bad in ("", "00:0c:29", "00:0c:29:12:34:56:78", "zz:0c:29:12:34:56", "not a mac"):
        assert vendor(bad) is None
        assert normalise(bad) is None


def test_bundled_table_shape() -> None:
    raw = resources.files("netwatch").joinpath("data/oui.tsv.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    prefixes = [ln.split("\t")[0] for ln in lines]
    assert prefixes == sorted(prefixes)
    assert len(set(prefixes)) == len(prefixes)
    assert {len(p) for p in prefixes} == {6, 7, 9}
    assert sum(len(p) == 6 for p in prefixes) > 30000  # the whole MA-L listing
    assert all(int(p, 16) >= 0 for p in prefixes)
    assert len(parse_table(text)) == len(lines)
    assert "IEEE Registration Authority" in text.splitlines()[0]


def test_parse_table_ignores_junk() -> None:
    text = "# comment\n\nABCDEF\tVendor\nABCDE\tshort\nABCDEF1\t\nxyz\n123456789\tNine\n"
    assert parse_table(text) == {"ABCDEF": "Vendor", "123456789": "Nine"}


def test_build_script_on_a_small_listing(tmp_path: Path) -> None:
    mod = _script()
    (tmp_path / "oui.csv").write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        'MA-L,00D0EF,IGT,"9295 PROTOTYPE DRIVE, RENO NV US 89511"\n'
        "MA-L,002272,  American   Micro-Fuel\tDevice Corp. ,Ferndale WA\n"
        "MA-L,00BBBB,Zeta Corp,x\n"
        "MA-L,00BBBB,Alpha Corp,x\n"
        "MA-L,XYZ123,Bad Prefix,x\n"
    )
    (tmp_path / "mam.csv").write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        "MA-M,741AE09,Private,\nMA-M,208593B,IOG Products LLC,Chatsworth\n"
    )
    (tmp_path / ".lastupdate").write_text("1661630937\n")
    out = tmp_path / "oui.tsv.gz"
    assert mod.main([str(tmp_path), "--out", str(out)]) == 0
    first = out.read_bytes()
    text = gzip.decompress(first).decode()
    assert "listing date 2022-08-27" in text
    assert parse_table(text) == {
        "002272": "American Micro-Fuel Device Corp.",
        "00BBBB": "Alpha Corp",
        "00D0EF": "IGT",
        "208593B": "IOG Products LLC",
    }
    assert mod.main([str(tmp_path), "--out", str(out)]) == 0
    assert out.read_bytes() == first  # reproducible
    assert mod.main([str(tmp_path / "empty"), "--out", str(out)]) == 1


@pytest.mark.skipif(not (IEEE_DATA / "oui.csv").exists(), reason="ieee-data not installed")
def test_bundled_table_is_the_installed_listing(tmp_path: Path) -> None:
    """Rebuilding from Debian's ieee-data gives the bundled file byte for byte."""
    mod = _script()
    out = tmp_path / "oui.tsv.gz"
    assert mod.main([str(IEEE_DATA), "--out", str(out)]) == 0
    bundled = resources.files("netwatch").joinpath("data/oui.tsv.gz").read_bytes()
    if gzip.decompress(out.read_bytes()) != gzip.decompress(bundled):
        pytest.skip("the installed ieee-data is another release than the bundled table")
    assert out.read_bytes() == bundled


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=6, max_size=6))
def test_fuzz_vendor_on_any_mac(raw: bytes) -> None:
    mac = ":".join(f"{b:02x}" for b in raw)
    name = vendor(mac)
    if raw[0] & 0x03:
        assert name is None
    assert name is None or (isinstance(name, str) and name.strip() == name and name)
    assert vendor(mac.upper().replace(":", "-")) == name


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_vendor_on_any_text(text: str) -> None:
    assert vendor(text) is None or normalise(text) is not None
