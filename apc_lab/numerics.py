"""What the lab's figures depend on besides the code, data and seeds: the
order of floating-point reductions. torch's CPU kernels split a reduction
over their threads (so 1, 2 and 16 threads sum in different orders) and pick
their vector width by the CPU (AVX2 or AVX-512); a run's numbers moved by 2-4
mIoU points between thread counts, the size of the seed spread. So every
figure-making run of the lab computes at ``FIGURE_THREADS`` torch threads
(``fix_numerics``), and the lab's tools ask torch, oneDNN and MKL for AVX2
code on x86 whatever the machine has (``pin_isa``, before torch loads).
That was not enough: oneDNN, which runs torch's CPU convolutions, chooses its
kernels and their blocking from the machine's caches and threads even at a
fixed ISA, and seed 0 of the demo moved by up to 3.6 mIoU points between two
2-vCPU Xeon hosts. So ``fix_numerics`` also turns oneDNN off: convolutions
run on ATen's own kernels and MKL (reproducible under ``MKL_CBWR``), about
1.5x slower on the demo. The record of all three is written beside the
figures (``numerics_record``).

This module imports torch only inside its functions, so a tool can call
``pin_isa`` before anything loads torch.
"""
import os
import platform

# One thread: ablation runs share the cores one process a core, and a demo
# run gives the same numbers alone or inside an ablation.
FIGURE_THREADS = 1
# Read once, when torch (ATen), oneDNN and MKL load: AVX2 kernels and MKL's
# conditional numerical reproducibility, on every x86-64 machine.
PINNED_ISA = dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2', MKL_CBWR='AVX2')


def pin_isa() -> None:
    """Set ``PINNED_ISA`` in this process's environment (x86-64 only; values
    the user set stay). Effective only before torch is imported."""
    if platform.machine().lower() in ('x86_64', 'amd64'):
        for key, value in PINNED_ISA.items():
            os.environ.setdefault(key, value)


def fix_numerics(threads: int = FIGURE_THREADS) -> dict:
    """Run torch at ``threads`` threads and without oneDNN in this process
    (both process-wide: the lab's commands call it, importing does not);
    returns ``numerics_record()``."""
    import torch
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = False
    return numerics_record()


def numerics_record() -> dict:
    """What the figures of this process depend on besides code, data and seeds."""
    import torch
    return dict(torch=torch.__version__, threads=torch.get_num_threads(),
                onednn=torch.backends.mkldnn.enabled,
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                machine=platform.machine(), **{k: os.environ.get(k) for k in PINNED_ISA})
