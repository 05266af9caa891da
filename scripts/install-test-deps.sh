#!/usr/bin/env bash
# Install every system package the netwatch test suite uses, on a fresh Debian 12 or
# Ubuntu 22.04+ machine. Idempotent: run it again and it changes nothing.
#
#   sudo scripts/install-test-deps.sh            # install
#   scripts/install-test-deps.sh --dry-run       # show what apt-get would do (no root needed)
#
# Installs nothing Python (the test script makes the venv). Servers that apt would start
# as system services (nginx, sshd) are kept from starting during the install, and the ones
# this run newly installed are stopped and disabled: the live tests start their own copies
# inside network namespaces. A service that was already installed is left as it was.
set -euo pipefail

DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run|-n) DRY_RUN=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [[ $DRY_RUN -eq 0 && $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        exec sudo -- "$0" "$@"
    fi
    echo "run as root (or install sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log() { printf '==> %s\n' "$*"; }

# Candidate version present in the package lists?
# (Output captured first: with pipefail, `grep -q` closing the pipe early would fail it.)
available() {
    local out
    out=$(apt-cache policy "$1" 2>/dev/null) || return 1
    [[ $out =~ Candidate:\ [^\(] ]]
}
installed() {
    local out
    out=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ $out == *"ok installed"* ]]
}

# The first available package of a list of per-distro alternatives.
first_of() {
    local pkg
    for pkg in "$@"; do
        if available "$pkg"; then echo "$pkg"; return 0; fi
    done
    return 1
}

if [[ $DRY_RUN -eq 0 ]]; then
    log "apt-get update"
    apt-get update -q
fi

# Debian/Ubuntu names that are the same everywhere.
REQUIRED=(
    # Python build prerequisites for the venv the test script creates
    python3-venv python3-dev gcc make pkg-config
    # capture and replay
    tshark tcpdump libpcap-dev tcpreplay
    # eBPF attribution backend (CO-RE objects)
    clang llvm libbpf-dev
    # live-test servers and clients
    openssh-server openssh-client dnsmasq-base openssl ca-certificates curl
    iproute2 iputils-ping procps util-linux lsof
    # TUI tests
    tmux xclip xvfb
)
# Alternatives, first available wins: "label:alt1,alt2,...".
ALTERNATIVES=(
    "libpcap runtime:libpcap0.8t64,libpcap0.8"
    "nginx with ssl+http2:nginx-light,nginx-core,nginx"
    "dig:bind9-dnsutils,dnsutils"
)
# Wanted but the suite skips what needs them when absent.
OPTIONAL=(
    "ndpiReader (peer DPI truths):libndpi-bin"
    "bpftool:bpftool,linux-tools-common"
    # real servers and clients for the protocol analyzers' live tests
    "dovecot IMAP:dovecot-imapd"
    "dovecot POP3:dovecot-pop3d"
    "telnetd:telnetd,inetutils-telnetd"
    "chrony:chrony"
    "snmpd:snmpd"
    "snmp tools:snmp"
    "coturn:coturn"
    "udhcpc:udhcpc"
    "kamailio:kamailio"
    "minidlna:minidlna"
    "samba (nmbd):samba"
    "capsh:libcap2-bin"
    "IEEE OUI listing:ieee-data"
    "mosquitto:mosquitto"
    "mosquitto clients:mosquitto-clients"
    "redis:redis-server"
    "postgresql:postgresql"
    "mariadb server:mariadb-server"
    "mariadb client:mariadb-client"
    "openvpn:openvpn"
    "wireguard tools:wireguard-tools"
    "wireguard-go:wireguard-go"
    "libtorrent (system python):python3-libtorrent"
    "opentracker:opentracker"
    "prometheus (promtool, server):prometheus"
    "nfdump (nfcapd IPFIX collector):nfdump"
)

PKGS=("${REQUIRED[@]}")
missing=()
for pkg in "${REQUIRED[@]}"; do
    available "$pkg" || installed "$pkg" || missing+=("$pkg")
done
for entry in "${ALTERNATIVES[@]}"; do
    label=${entry%%:*}
    IFS=, read -r -a alts <<<"${entry#*:}"
    if pkg=$(first_of "${alts[@]}"); then PKGS+=("$pkg"); else missing+=("$label (${alts[*]})"); fi
done
for entry in "${OPTIONAL[@]}"; do
    label=${entry%%:*}
    IFS=, read -r -a alts <<<"${entry#*:}"
    if pkg=$(first_of "${alts[@]}"); then
        PKGS+=("$pkg")
        # Ubuntu ships bpftool inside the kernel-versioned linux-tools package.
        if [[ $pkg == linux-tools-common ]]; then
            kernel_tools=$(first_of "linux-tools-$(uname -r)" linux-tools-generic || true)
            [[ -n $kernel_tools ]] && PKGS+=("$kernel_tools")
        fi
    else
        log "optional: no package for $label (${alts[*]}); tests needing it will skip"
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "no installable package for: ${missing[*]}" >&2
    echo "(is this Debian 12 / Ubuntu 22.04 or newer, with 'universe' enabled on Ubuntu?)" >&2
    exit 1
fi

if [[ $DRY_RUN -eq 1 ]]; then
    log "would install: ${PKGS[*]}"
    apt-get install -s -y --no-install-recommends "${PKGS[@]}" | grep -E '^(Inst|Conf) ' || true
    exit 0
fi

# Remember which services exist before the install: only new ones get disabled afterwards.
# service:package that provides it (the tests start their own copies in namespaces).
SERVICE_PACKAGES=(
    nginx:nginx-common ssh:openssh-server dovecot:dovecot-core chrony:chrony
    snmpd:snmpd coturn:coturn kamailio:kamailio minidlna:minidlna smbd:samba nmbd:samba
    samba-ad-dc:samba mosquitto:mosquitto redis-server:redis-server postgresql:postgresql
    mariadb:mariadb-server openvpn:openvpn opentracker:opentracker prometheus:prometheus
    nfdump:nfdump
)
SERVICES=()
declare -A SERVICE_PKG
for entry in "${SERVICE_PACKAGES[@]}"; do
    SERVICES+=("${entry%%:*}")
    SERVICE_PKG[${entry%%:*}]=${entry#*:}
done
service_installed() {
    case $1 in
        nginx) installed nginx-common || installed nginx-light || installed nginx-core || installed nginx ;;
        *) installed "${SERVICE_PKG[$1]}" ;;
    esac
}
declare -A HAD
for svc in "${SERVICES[@]}"; do
    if service_installed "$svc"; then HAD[$svc]=1; else HAD[$svc]=0; fi
done

# Keep maintainer scripts from starting daemons while we install (invoke-rc.d and
# deb-systemd-invoke both honour policy-rc.d). An existing policy is left untouched.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
fi

# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

log "apt-get install ${#PKGS[@]} packages"
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PKGS[@]}"

have_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
for svc in "${SERVICES[@]}"; do
    [[ ${HAD[$svc]} != 0 ]] && continue
    if have_systemd && systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
        log "disabling the $svc system service (the tests run their own)"
        systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
        [[ $svc == ssh ]] && systemctl disable --now ssh.socket >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/$svc ]]; then
        log "stopping the $svc init script (the tests run their own)"
        /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
        command -v update-rc.d >/dev/null && update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
done

# Quick check that the tools the harness calls are on PATH.
for tool in ip tshark tcpdump nginx sshd ssh ssh-keygen dnsmasq dig curl openssl clang tmux; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
        echo "warning: $tool not found after install" >&2
    }
done
log "done"
