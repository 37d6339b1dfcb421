"""Let glibc keep the memory of large CPU tensors for reuse."""
import ctypes
import ctypes.util
import os

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc refuses mmap thresholds above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit).
MAX_MMAP_THRESHOLD = 32 << 20
DISABLE_ENV = 'APC_MMSEG_TUNE_MALLOC'


def keep_freed_memory(mmap_threshold: int = MAX_MMAP_THRESHOLD,
                      trim_threshold: int = 1 << 30) -> bool:
    """Serve blocks below ``mmap_threshold`` from the heap and keep freed heap.

    A CPU training step allocates and frees the same activations every
    iteration (25 MiB for a batch of 2 logits maps at 384², 21 classes).
    glibc hands such blocks out as fresh ``mmap`` pages and unmaps them on
    ``free``, so every step page-faults and zeroes them again in the kernel;
    measured with ``tools/analysis_tools/benchmark.py`` this made APC's step about 11% slower.
    Call once per process, before the work (tools/train.py and test.py do).
    ``APC_MMSEG_TUNE_MALLOC=0`` leaves malloc as it is.

    Returns:
        bool: whether both settings were applied (False off glibc).
    """
    if os.environ.get(DISABLE_ENV, '1') == '0':
        return False
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False  # not glibc (musl, macOS): nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok_mmap = mallopt(M_MMAP_THRESHOLD, min(mmap_threshold, MAX_MMAP_THRESHOLD))
    ok_trim = mallopt(M_TRIM_THRESHOLD, trim_threshold)
    return bool(ok_mmap and ok_trim)
