"""Link-layer header types (tcpdump.org LINKTYPE_* values) that netwatch decodes."""

LINKTYPE_NULL = 0  # BSD loopback: 4-byte host-order address family
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, version nibble decides
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte network-order family
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW's platform-specific values seen in old pcap files.
LINKTYPE_RAW_ALIASES = (12, 14)
