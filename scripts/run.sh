#!/usr/bin/env bash
# Install netwatch into a virtualenv beside this checkout and start the live monitor.
#
#   scripts/run.sh                 # live monitor on the default route's interface (sudo)
#   scripts/run.sh -r file.pcap    # any netwatch arguments; no root needed for files
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import venv, ensurepip' 2>/dev/null || ! ldconfig -p | grep -q libpcap; then
    SUDO=""; [[ $EUID -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv libpcap0.8 \
        || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv libpcap0.8t64
fi
VENV=${NETWATCH_VENV:-.venv}
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet .
needs_root=1
for a in "$@"; do
    case "$a" in -r|--read|--demo|--version|-h|--help) needs_root=0 ;; esac
done
if [[ $needs_root -eq 1 && $EUID -ne 0 ]]; then
    exec sudo "$VENV/bin/netwatch" "$@"
fi
exec "$VENV/bin/netwatch" "$@"
