"""``netwatch --diagnose``: which capture and attribution backends work here, and why not."""

from __future__ import annotations

import sys

from netwatch import __version__


def run_diagnose() -> int:
    print(f"netwatch {__version__} on Python {sys.version.split()[0]} ({sys.platform})")
    print("capture:")
    for line in _capture_lines():
        print(f"  {line}")
    print("process attribution:")
    for line in _attribution_lines():
        print(f"  {line}")
    return 0


def _capture_lines() -> list[str]:
    from netwatch.capture import interfaces
    from netwatch.capture.permissions import check_capture_permission
    from netwatch.errors import CaptureError

    out = [f"interfaces: {', '.join(interfaces.list_interfaces()) or 'none'}"]
    out.append(f"default route interface: {interfaces.default_route_interface() or 'none'}")
    try:
        check_capture_permission()
        out.append("live capture: permitted (AF_PACKET ring)")
    except CaptureError as exc:
        out.append(f"live capture: {exc}")
        out.append("files (-r) and --demo need no privileges")
    except OSError as exc:
        out.append(f"live capture: unavailable here ({exc})")
    return out


def _attribution_lines() -> list[str]:
    from netwatch.attribution import choose_resolver, diagnose_host

    resolver = choose_resolver()
    try:
        lines = [f"active backend: {resolver.name}"]
        notes = [*diagnose_host(), *resolver.diagnose()]
        lines += [f"- {d}" for d in dict.fromkeys(notes)]
    finally:
        resolver.close()
    return lines
