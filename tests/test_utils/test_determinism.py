"""The deterministic-mode probe reports what torch itself refuses on a
device, and the runner's refusal says only what the probe found."""
import pytest
import torch
import torch.nn.functional as F
from torch._prims_common import alert_not_deterministic

from apc_mmseg.engine.apc_runner import determinism_refusal
from apc_mmseg.utils.determinism import PROBES, Refusal, nondeterministic_ops, torch_says


def test_the_probe_reports_what_torch_refuses(device):
    """CPU has deterministic kernels for all of them. On CUDA, torch 2.14.1's
    libtorch_cuda.so raises (``Context::alertNotDeterministic``) in the
    backward of bilinear upsampling and in histc on floats; not in matmuls
    (torch 2.14 has no cuBLAS workspace alert), nor in mmseg's cross-entropy:
    ``nll_loss2d``'s forward refuses only a reduced loss, and mmseg asks
    torch for ``reduction='none'`` and reduces it itself; the backward has
    no alert."""
    torch.use_deterministic_algorithms(False)
    refused = nondeterministic_ops(device)
    assert not torch.are_deterministic_algorithms_enabled()  # left as it was
    if device.type == 'cpu':
        assert refused == []
        return
    wheres = [r.where for r in refused]
    # What torch's own use_deterministic_algorithms docstring lists as refused on CUDA
    assert wheres[-2:] == [PROBES[2][0], PROBES[3][0]], refused
    assert 'upsample_bilinear2d_backward' in refused[-2].torch_says, refused
    assert '_histc_cuda' in refused[-1].torch_says, refused
    if torch.__version__.startswith('2.14.'):  # what its kernels were read to do
        assert wheres == [PROBES[2][0], PROBES[3][0]], refused


def test_the_probe_restores_warn_only_mode():
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        nondeterministic_ops(torch.device('cpu'))
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def refusing_cross_entropy(monkeypatch):
    """Cross-entropy as a torch build whose nll_loss2d refuses: torch's own
    alert (the message its kernels raise), then the real loss."""
    real = F.cross_entropy

    def cross_entropy(*args, **kwargs):
        alert_not_deterministic('nll_loss2d_forward_out_cuda_template')
        return real(*args, **kwargs)
    monkeypatch.setattr(F, 'cross_entropy', cross_entropy)


def test_the_decode_loss_is_probed(monkeypatch):
    """mmseg's CrossEntropyLoss, run as the decode head runs it, is probed
    after the matmuls and before the resize's backward (the order a step
    meets them); torch's refusal is reported in torch's words."""
    refusing_cross_entropy(monkeypatch)
    refused = nondeterministic_ops(torch.device('cpu'))
    assert refused == [Refusal(PROBES[1][0], 'nll_loss2d_forward_out_cuda_template does not '
                                             'have a deterministic implementation')]
    assert 'cross-entropy' in PROBES[1][0] and 'resize' in PROBES[2][0]


def test_a_refused_op_is_reported(monkeypatch):
    """A probe that torch refuses is named; any other error is not swallowed."""
    from apc_mmseg.utils import determinism

    def refused(device):  # the message torch's refusals carry
        alert_not_deterministic('index_add_cuda_')

    monkeypatch.setattr(determinism, 'PROBES', [('refused op', refused), *PROBES])
    assert nondeterministic_ops(torch.device('cpu')) == [
        Refusal('refused op', 'index_add_cuda_ does not have a deterministic implementation')]

    def broken(device):
        raise RuntimeError('out of memory')
    monkeypatch.setattr(determinism, 'PROBES', [('broken', broken)])
    with pytest.raises(RuntimeError, match='out of memory'):
        nondeterministic_ops(torch.device('cpu'))


def test_torch_says_keeps_the_first_sentence():
    with pytest.raises(RuntimeError) as e:
        torch.use_deterministic_algorithms(True)
        try:
            alert_not_deterministic('upsample_bilinear2d_backward_out_cuda')
        finally:
            torch.use_deterministic_algorithms(False)
    assert torch_says(e.value) == ('upsample_bilinear2d_backward_out_cuda does not have a '
                                   'deterministic implementation')
    assert torch_says(RuntimeError('Deterministic behavior was enabled. To enable it, set '
                                   'X.')) == 'Deterministic behavior was enabled'


@pytest.mark.parametrize('found', [[0], [1, 2], [0, 1, 2, 3]])
def test_the_refusal_names_what_the_probe_found_and_nothing_else(found):
    """The message is the probe's findings, numbered in the order the run
    meets them: no op torch did not refuse is named."""
    refusals = [Refusal(PROBES[i][0], f'op_{i} does not have a deterministic implementation')
                for i in found]
    message = determinism_refusal(refusals)
    for n, i in enumerate(found, 1):
        assert f'({n}) {PROBES[i][0]} (torch: "op_{i} does not' in message
    for i in set(range(len(PROBES))) - set(found):
        assert PROBES[i][0] not in message and f'op_{i}' not in message
    assert torch.__version__ in message
