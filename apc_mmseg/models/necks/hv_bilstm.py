from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import UniformMaskDropout


@MODELS.register_module()
class HVBiLSTM(BaseModule):
    """Horizontal-vertical bidirectional LSTM neck of ViT-PCM (docs/method.md).

    One bidirectional LSTM runs along the width of every row and a second one
    (own weights) along the height of every column; their outputs are
    concatenated. Shapes: level ``in_index`` ``[B, D, H, W]`` becomes
    ``[B, 4h, H, W]`` (h = ``hidden_channels``, D/4 by default, so 4h = D);
    the other levels pass through unchanged.

    The LSTMs always compute in float32 with autocast off. Under CUDA
    autocast, torch runs cuDNN RNNs in float16 whatever the autocast dtype
    (its ``_cudnn_rnn`` autocast kernel casts to half), and a bf16 run has no
    loss scaler: L_pcl's gradient at the neck's output (~1e-9 at VOC's
    shapes) would fall below float16's smallest subnormal and vanish. The
    output is float32 (``[B, 4h, H, W]``) under any autocast.

    Args:
        in_channels (int): D, channels of the refined level.
        hidden_channels (int, optional): h per direction. Defaults to D // 4.
        dropout (float): Dropout on the input (a single-layer ``nn.LSTM``
            ignores its own ``dropout``). Defaults to 0.2.
        in_index (int): Which level of the input tuple to refine.
        forget_bias (float): Initial forget-gate bias. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Optional[int] = None,
                 dropout: float = 0.2,
                 in_index: int = -1,
                 forget_bias: float = 1.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        if hidden_channels is None:
            if in_channels % 4:
                raise ValueError(
                    f'in_channels={in_channels} is not divisible by 4; '
                    'set hidden_channels explicitly')
            hidden_channels = in_channels // 4
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = 4 * hidden_channels
        self.in_index = in_index
        self.forget_bias = forget_bias
        self.dropout = UniformMaskDropout(dropout)
        # Sequence-first: the layout the LSTM kernels use, so no transposes.
        self.lstm_h = nn.LSTM(in_channels, hidden_channels, bidirectional=True)
        self.lstm_v = nn.LSTM(in_channels, hidden_channels, bidirectional=True)
        self._init_forget_bias()

    def _init_forget_bias(self):
        # PyTorch packs the gates as (input, forget, cell, output) and adds
        # bias_ih + bias_hh: put the whole forget bias on bias_ih.
        h = self.hidden_channels
        for lstm in (self.lstm_h, self.lstm_v):
            for name, p in lstm.named_parameters():
                if name.startswith('bias'):
                    with torch.no_grad():
                        p[h:2 * h] = self.forget_bias if 'ih' in name else 0.

    def init_weights(self):
        super().init_weights()
        self._init_forget_bias()

    def refine(self, x: Tensor) -> Tensor:
        """``[B, D, H, W] -> [B, 4h, H, W]`` (channels-last memory)."""
        B, D, H, W = x.shape
        x = self.dropout(x).to(torch.promote_types(x.dtype, torch.float32))
        rows = x.permute(3, 0, 2, 1).reshape(W, B * H, D)  # along the width
        cols = x.permute(2, 0, 3, 1).reshape(H, B * W, D)  # along the height
        with torch.autocast(x.device.type, enabled=False):
            rows = self.lstm_h(rows)[0].view(W, B, H, -1).permute(1, 2, 0, 3)
            cols = self.lstm_v(cols)[0].view(H, B, W, -1).permute(1, 0, 2, 3)
        return torch.cat([rows, cols], dim=-1).permute(0, 3, 1, 2)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        outs = list(inputs)
        outs[self.in_index] = self.refine(outs[self.in_index])
        return tuple(outs)
