"""What the CPU offers int8 inference: whether an x86-64 CPU has VNNI (the instruction int8 kernels want).

onnxruntime's fast int8 kernels on x86-64 multiply unsigned 8-bit activations by
signed 8-bit weights. With VNNI (``avx512_vnni``, ``avx_vnni``) the products are
summed in 32 bits; without it (AVX2, AVX-512 without VNNI) pairs of products are
summed in 16 bits first, which saturates for weights using the full 8-bit range.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
X86_64 = ("x86_64", "amd64", "x64")


def is_x86_64() -> bool:
    return platform.machine().lower() in X86_64


def cpuinfo_field(name: str) -> str | None:
    """The first CPU's ``name`` field in /proc/cpuinfo (Linux), e.g. "model name"; None where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (Linux); None where they cannot be read."""
    flags = cpuinfo_field("flags")
    return None if flags is None else frozenset(flags.split())


def int8_sums_saturate() -> bool:
    """Whether onnxruntime's fast u8 x s8 kernels may saturate here: an x86-64 CPU not known to have VNNI."""
    if not is_x86_64():
        return False  # Arm and others: kernels without 16-bit intermediate sums
    flags = cpu_flags()
    return flags is None or not any(flag in flags for flag in VNNI_FLAGS)
