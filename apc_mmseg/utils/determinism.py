"""Which ops of an APC run torch refuses on a device in deterministic mode.

``randomness.deterministic=True`` makes mmengine call
``torch.use_deterministic_algorithms(True)``; torch then raises at the first
op that has no deterministic kernel on the device, mid-run. Which ops those
are changes between torch releases (torch 2.14 no longer refuses cuBLAS
matmuls, for one), so no list is kept by hand: the probes run each op an APC
run meets (in the order a training step and an evaluation meet them) on small
tensors with deterministic mode on, and report the ones torch refuses, in
torch's own words.
"""
import warnings
from typing import Callable, List, NamedTuple, Tuple

import torch
import torch.nn.functional as F


class Refusal(NamedTuple):
    """A probe torch refused: where APC runs the op, and what torch said."""
    where: str
    torch_says: str


def _matmul(device: torch.device) -> None:
    a = torch.ones(4, 4, device=device)
    a @ a


def _decode_loss(device: torch.device) -> None:
    """mmseg's ``CrossEntropyLoss`` as the configs set it, forward and
    backward: torch's cross-entropy (log-softmax, then ``nll_loss2d`` on 4-D
    logits) with an ignored pixel, as the labels have."""
    from mmseg.models.losses import CrossEntropyLoss
    logits = torch.zeros(1, 3, 4, 4, device=device, requires_grad=True)
    labels = torch.zeros(1, 4, 4, dtype=torch.long, device=device)
    labels[0, 0, 0] = 255
    with warnings.catch_warnings():  # its avg_non_ignore notice: the run's build shows it
        warnings.simplefilter('ignore', UserWarning)
        loss = CrossEntropyLoss(use_sigmoid=False)
    loss(logits, labels, ignore_index=255).backward()


def _bilinear_backward(device: torch.device) -> None:
    x = torch.ones(1, 1, 4, 4, device=device, requires_grad=True)
    F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False).sum().backward()


def _float_histc(device: torch.device) -> None:
    torch.histc(torch.linspace(0, 1, 8, device=device), bins=4, min=0, max=1)


# (where APC runs the op, the probe), in the order a run meets them: the
# step's forward (linear layers, then the decode loss), its backward (the
# loss's, then that of the resize before it), then validation.
PROBES: List[Tuple[str, Callable[[torch.device], None]]] = [
    ('matmuls (every linear layer)', _matmul),
    ("the decode loss's cross-entropy (mmseg's CrossEntropyLoss), forward and backward",
     _decode_loss),
    ("the backward of the decode loss's bilinear resize of the logits to the label size",
     _bilinear_backward),
    ("torch.histc on floats (mmseg's IoUMetric, at validation)", _float_histc),
]


def torch_says(error: RuntimeError) -> str:
    """The part of torch's refusal that names the op: its first sentence,
    without the "but you set ..." that every refusal carries (torch 2.14:
    "upsample_bilinear2d_backward_out_cuda does not have a deterministic
    implementation, but you set 'torch.use_deterministic_algorithms(True)'.
    You can turn off ...")."""
    text = str(error).strip().splitlines()[0]
    return text.split(', but you set')[0].split('. ')[0].rstrip('.')


def nondeterministic_ops(device: torch.device) -> List[Refusal]:
    """The ``PROBES`` torch refuses on ``device`` in deterministic mode (on
    CPU: none), in ``PROBES``' order. Torch's deterministic setting is
    restored afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    refused = []
    torch.use_deterministic_algorithms(True)
    try:
        for where, probe in PROBES:
            try:
                probe(device)
            except RuntimeError as e:
                if 'determinis' not in str(e):
                    raise
                refused.append(Refusal(where, torch_says(e)))
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    return refused
