"""Which ops of an APC run torch refuses on a device in deterministic mode.

``randomness.deterministic=True`` makes mmengine call
``torch.use_deterministic_algorithms(True)``; torch then raises at the first
op that has no deterministic kernel on the device, mid-run. Rather than keep a
list of such ops by hand, the probes run each op an APC run meets (in the
order a training step and an evaluation meet them) on small tensors with
deterministic mode on, and report the ones torch refuses.
"""
from typing import Callable, List, Tuple

import torch
import torch.nn.functional as F


def _matmul(device: torch.device) -> None:
    a = torch.ones(4, 4, device=device)
    a @ a


def _bilinear_backward(device: torch.device) -> None:
    x = torch.ones(1, 1, 4, 4, device=device, requires_grad=True)
    F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False).sum().backward()


def _float_histc(device: torch.device) -> None:
    torch.histc(torch.linspace(0, 1, 8, device=device), bins=4, min=0, max=1)


# (what the op is and where APC runs it, the probe), in the order a run meets them
PROBES: List[Tuple[str, Callable[[torch.device], None]]] = [
    ('cuBLAS matmuls (every linear layer; torch needs CUBLAS_WORKSPACE_CONFIG=:4096:8 '
     'set before the process starts)', _matmul),
    ("the backward of bilinear upsampling (upsample_bilinear2d: the decode loss's "
     'resize of the logits to the label size)', _bilinear_backward),
    ("torch.histc on floats (mmseg's IoUMetric, at validation)", _float_histc),
]


def nondeterministic_ops(device: torch.device) -> List[str]:
    """The ``PROBES`` torch refuses on ``device`` in deterministic mode (on
    CPU: none). Torch's deterministic setting is restored afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    refused = []
    torch.use_deterministic_algorithms(True)
    try:
        for name, probe in PROBES:
            try:
                probe(device)
            except RuntimeError as e:
                if 'determinis' not in str(e):
                    raise
                refused.append(name)
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    return refused
