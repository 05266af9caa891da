"""SNMP analyzer: RFC 1157 §4 (v1 messages, Trap-PDU), RFC 1901/3416 §3 (v2c PDUs,
SNMPv2-Trap with snmpTrapOID.0), RFC 3412 §6 (v3 message) and RFC 3414 §2.4 (USM
security parameters: the user name, and whether the scoped PDU is encrypted).

v1/v2c: ``SEQUENCE { version, community, PDU }``; v3: ``SEQUENCE { 3, msgGlobalData,
msgSecurityParameters (OCTET STRING holding the USM SEQUENCE), msgData }`` where msgData
is a plaintext ScopedPDU or an OCTET STRING of ciphertext (``encrypted``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.snmp.ber import PROTO, Reader
from netwatch.errors import MalformedError

MAX_OIDS = 64  # distinct variable names kept per flow; the rest are counted
MAX_VARBINDS = 256  # walked per PDU
VERSIONS = {0: "1", 1: "2c", 3: "3"}
PDU_TYPES = {
    0xA0: "get_request",
    0xA1: "get_next_request",
    0xA2: "get_response",
    0xA3: "set_request",
    0xA4: "trap_v1",
    0xA5: "get_bulk_request",
    0xA6: "inform_request",
    0xA7: "trap_v2",
    0xA8: "report",
}
REQUESTS = frozenset({0xA0, 0xA1, 0xA3, 0xA5, 0xA6})
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"  # RFC 3418: the v2 trap's identity varbind
GENERIC_TRAPS = (
    "coldStart",
    "warmStart",
    "linkDown",
    "linkUp",
    "authenticationFailure",
    "egpNeighborLoss",
    "enterpriseSpecific",
)
ERROR_STATUS = (
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
)
SECURITY_LEVELS = {0: "noAuthNoPriv", 1: "authNoPriv", 3: "authPriv"}


def detect_udp(data: bytes) -> bool:
    """A whole SNMP message of version 1, 2c or 3 (parsed, not guessed)."""
    if len(data) < 12 or data[0] != 0x30:
        return False
    try:
        _Message.parse(data)
    except MalformedError:
        return False
    return True


class _Message:
    """The parts of one SNMP message the analyzer keeps."""

    __slots__ = (
        "agent",
        "community",
        "encrypted",
        "engine_id",
        "enterprise",
        "error",
        "generic",
        "level",
        "oids",
        "pdu",
        "specific",
        "trap_oid",
        "user",
        "version",
    )

    def __init__(self) -> None:
        self.version = ""
        self.community: str | None = None
        self.pdu: int | None = None
        self.oids: list[str] = []
        self.trap_oid: str | None = None
        self.enterprise: str | None = None
        self.agent: str | None = None
        self.generic: int | None = None
        self.specific: int | None = None
        self.error = 0
        self.user: str | None = None
        self.engine_id: str | None = None
        self.level: str | None = None
        self.encrypted = False

    @classmethod
    def parse(cls, data: bytes) -> _Message:
        msg = cls()
        outer = Reader(data)
        seq = outer.enter(0x30)
        version = seq.integer()
        if version not in VERSIONS:
            raise MalformedError(PROTO, f"version {version}")
        msg.version = VERSIONS[version]
        if version == 3:
            msg._v3(seq)
        else:
            msg.community = seq.octets().decode("utf-8", "replace")
            msg._pdu(seq)
        return msg

    def _v3(self, seq: Reader) -> None:
        glob = seq.enter(0x30)
        glob.integer()  # msgID
        glob.integer()  # msgMaxSize
        flags = glob.octets()
        model = glob.integer()
        if len(flags) != 1:
            raise MalformedError(PROTO, "msgFlags is not one byte")
        self.level = SECURITY_LEVELS.get(flags[0] & 3)
        if self.level is None:
            raise MalformedError(PROTO, "privacy without authentication")
        start, end = seq.expect(0x04)
        if model == 3 and end > start:  # USM
            usm = Reader(seq.data, start, end).enter(0x30)
            self.engine_id = usm.octets().hex() or None
            usm.integer()  # msgAuthoritativeEngineBoots
            usm.integer()  # msgAuthoritativeEngineTime
            self.user = usm.octets().decode("utf-8", "replace") or None
        if seq.peek_tag() == 0x04:
            seq.octets()
            self.encrypted = True
            return
        scoped = seq.enter(0x30)
        scoped.octets()  # contextEngineID
        scoped.octets()  # contextName
        self._pdu(scoped)

    def _pdu(self, seq: Reader) -> None:
        tag = seq.peek_tag()
        if tag not in PDU_TYPES:
            raise MalformedError(PROTO, f"PDU tag 0x{tag:02x}")
        self.pdu = tag
        pdu = seq.enter(tag)
        if tag == 0xA4:
            self.enterprise = pdu.oid()
            addr = pdu.octets(0x40)
            self.agent = ".".join(str(b) for b in addr) if len(addr) == 4 else addr.hex()
            self.generic = pdu.integer()
            self.specific = pdu.integer()
            pdu.integer(0x43)  # time-stamp (TimeTicks)
        else:
            pdu.integer()  # request-id
            self.error = pdu.integer()
            pdu.integer()  # error-index / max-repetitions
        binds = pdu.enter(0x30)
        count = 0
        while not binds.at_end():
            count += 1
            if count > MAX_VARBINDS:
                raise MalformedError(PROTO, "too many variable bindings")
            vb = binds.enter(0x30)
            name = vb.oid()
            if tag == 0xA7 or tag == 0xA6:
                if name == SNMP_TRAP_OID and vb.peek_tag() == 0x06:
                    self.trap_oid = vb.oid()
                    continue
            vb.skip()
            self.oids.append(name)


class SNMPAnalyzer(AnalyzerBase):
    """The SNMP messages of one UDP flow (a manager's requests, an agent's traps)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._version: str | None = None
        self._community: str | None = None
        self._pdus: list[str] = []
        self._oids: list[str] = []
        self._more_oids = 0
        self._traps: list[dict[str, Any]] = []
        self._user: str | None = None
        self._engine: str | None = None
        self._level: str | None = None
        self._encrypted = False
        self._errors: list[str] = []
        self._counts = [0, 0]

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        msg = _Message.parse(data)
        self._counts[direction] += 1
        self._version = msg.version
        if msg.community is not None:
            self._community = msg.community
        if msg.pdu is not None:
            name = PDU_TYPES[msg.pdu]
            if name not in self._pdus:
                self._pdus.append(name)
        for oid in msg.oids:
            if oid in self._oids:
                continue
            if len(self._oids) < MAX_OIDS:
                self._oids.append(oid)
            else:
                self._more_oids += 1
        if msg.pdu in (0xA4, 0xA7, 0xA6) and len(self._traps) < MAX_OIDS:
            self._traps.append(_trap(msg))
        if msg.error:
            err = ERROR_STATUS[msg.error] if msg.error < len(ERROR_STATUS) else str(msg.error)
            if err not in self._errors:
                self._errors.append(err)
        self._user = msg.user or self._user
        self._engine = msg.engine_id or self._engine
        self._level = msg.level or self._level
        self._encrypted = self._encrypted or msg.encrypted
        return ()

    @property
    def finished(self) -> bool:
        return False

    def record(self) -> dict[str, Any]:
        return {
            "version": self._version,
            "community": self._community,
            "pdu_types": list(self._pdus),
            "oids": list(self._oids),
            "more_oids": self._more_oids,
            "traps": [dict(t) for t in self._traps],
            "error_status": list(self._errors),
            "usm_user": self._user,
            "engine_id": self._engine,
            "security_level": self._level,
            "encrypted": self._encrypted,
            "requests": self._counts[0],
            "responses": self._counts[1],
        }

    def summary(self) -> str:
        parts = [f"SNMPv{self._version}" if self._version else "SNMP"]
        if self._pdus:
            parts.append(self._pdus[0])
        if self._traps and self._traps[0]["trap_oid"]:
            parts.append(self._traps[0]["trap_oid"])
        elif self._oids:
            parts.append(self._oids[0])
        if self._community is not None:
            parts.append(f"({self._community})")
        elif self._user:
            parts.append(f"(user {self._user})")
        return " ".join(parts)


def _trap(msg: _Message) -> dict[str, Any]:
    """A trap's identity: v2 names it by snmpTrapOID.0; v1 by enterprise + generic/specific
    (RFC 3584 §3.1 maps those to the same v2 OID form)."""
    trap_oid = msg.trap_oid
    generic = None
    if msg.pdu == 0xA4 and msg.generic is not None:
        generic = GENERIC_TRAPS[msg.generic] if 0 <= msg.generic < 7 else str(msg.generic)
        if msg.generic == 6:
            trap_oid = f"{msg.enterprise}.0.{msg.specific}"
        elif 0 <= msg.generic < 6:
            trap_oid = f"1.3.6.1.6.3.1.1.5.{msg.generic + 1}"
    return {
        "pdu_type": PDU_TYPES[msg.pdu] if msg.pdu is not None else None,
        "trap_oid": trap_oid,
        "enterprise": msg.enterprise,
        "agent_address": msg.agent,
        "generic_trap": generic,
        "specific_trap": msg.specific,
    }
