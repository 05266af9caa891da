from __future__ import annotations

import logging

import pytest

from netwatch.attribution import BackendUnavailable, FakeResolver, choose_resolver
from netwatch.attribution.base import ProcessResolver
from netwatch.attribution.choose import platform_chain
from netwatch.model.process import ProcessInfo


class Broken(FakeResolver):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self.reason = reason

    def start(self) -> None:
        raise BackendUnavailable(self.name, self.reason)


def factories(made: list[FakeResolver]) -> dict[str, object]:
    def make(name: str, reason: str | None) -> object:
        def f() -> ProcessResolver:
            r: FakeResolver = Broken(name, reason) if reason else FakeResolver(name)
            made.append(r)
            return r

        return f

    return {
        "ebpf": make("ebpf", "missing CAP_BPF: run as root"),
        "sockdiag": make("sockdiag", None),
        "psutil": make("psutil", None),
    }


def test_first_working_backend_wins_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    made: list[FakeResolver] = []
    with caplog.at_level(logging.WARNING, logger="netwatch.attribution"):
        r = choose_resolver(chain=("ebpf", "sockdiag", "psutil"), factories=factories(made))  # type: ignore[arg-type]
    assert r.name == "sockdiag"
    assert r.diagnose() == ["ebpf: missing CAP_BPF: run as root"]
    assert [m.name for m in made] == ["ebpf", "sockdiag"]  # psutil never built
    assert made[0].closed and made[1].started and not made[1].closed
    assert len([rec for rec in caplog.records if "ebpf" in rec.getMessage()]) == 1
    r.start()  # already started: a no-op
    r.close()
    assert made[1].closed


def test_prefer_goes_first() -> None:
    made: list[FakeResolver] = []
    r = choose_resolver("psutil", chain=("ebpf", "sockdiag", "psutil"),
                        factories=factories(made))  # type: ignore[arg-type]  # fmt: skip
    assert r.name == "psutil" and r.diagnose() == []
    with pytest.raises(ValueError, match="unknown attribution backend"):
        choose_resolver("bcc", factories=factories(made))  # type: ignore[arg-type]


def test_nothing_works() -> None:
    facs = {"ebpf": lambda: Broken("ebpf", "no BTF"), "psutil": lambda: Broken("psutil", "no")}
    r = choose_resolver(chain=("ebpf", "psutil"), factories=facs)  # type: ignore[arg-type]
    assert r.name == "none"
    assert r.diagnose() == ["ebpf: no BTF", "psutil: no", "no attribution backend works"]
    assert r.lookup("tcp", ("10.0.0.1", 1), ("10.0.0.2", 2)) is None


def test_platform_chains() -> None:
    assert platform_chain("linux") == ("ebpf", "sockdiag", "procfs", "psutil")
    assert platform_chain("darwin") == ("psutil", "lsof")
    assert platform_chain("win32") == ("psutil",)
    assert platform_chain("freebsd14") == ("psutil",)


def test_fake_resolver_answers_like_a_backend() -> None:
    f = FakeResolver("ebpf", notes=["n"])
    nginx = ProcessInfo(pid=80, name="nginx")
    f.add("tcp", ("0.0.0.0", 80), ("0.0.0.0", 0), nginx, listening=True)
    hit = f.lookup("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000))
    assert hit is not None and hit[0] is nginx and hit[1].to_dict() == {
        "source": "ebpf", "match": "listener"}  # fmt: skip
    f.remove("tcp", ("0.0.0.0", 80), ("0.0.0.0", 0))
    assert f.lookup("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000)) is None
    assert f.diagnose() == ["n"] and f.lookups == 2
