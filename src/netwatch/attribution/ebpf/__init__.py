"""The eBPF attribution backend (CO-RE objects from ``ebpf/``, loaded through libbpf)."""

from netwatch.attribution.ebpf.resolver import EbpfResolver

__all__ = ["EbpfResolver"]
