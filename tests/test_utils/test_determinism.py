"""The deterministic-mode probe reports what torch itself refuses on a device."""
import os

import pytest
import torch

from apc_mmseg.utils.determinism import PROBES, nondeterministic_ops


def test_the_probe_reports_what_torch_refuses(device):
    """CPU has deterministic kernels for all of them. On CUDA (torch 2.14)
    the bilinear backward and float histc are refused, and cuBLAS unless its
    workspace is configured."""
    torch.use_deterministic_algorithms(False)
    refused = nondeterministic_ops(device)
    assert not torch.are_deterministic_algorithms_enabled()  # left as it was
    if device.type == 'cpu':
        assert refused == []
        return
    names = [name for name, _ in PROBES]
    want = names[1:]
    if os.environ.get('CUBLAS_WORKSPACE_CONFIG') not in (':4096:8', ':16:8'):
        want = names
    assert refused == want


def test_the_probe_restores_warn_only_mode():
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        nondeterministic_ops(torch.device('cpu'))
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_a_refused_op_is_reported(monkeypatch):
    """A probe that torch refuses is named; any other error is not swallowed."""
    from apc_mmseg.utils import determinism

    def refused(device):  # the message torch's refusals carry
        raise RuntimeError('index_add_cuda_ does not have a deterministic implementation')

    monkeypatch.setattr(determinism, 'PROBES', [('refused op', refused), *PROBES])
    assert nondeterministic_ops(torch.device('cpu')) == ['refused op']

    def broken(device):
        raise RuntimeError('out of memory')
    monkeypatch.setattr(determinism, 'PROBES', [('broken', broken)])
    with pytest.raises(RuntimeError, match='out of memory'):
        nondeterministic_ops(torch.device('cpu'))
