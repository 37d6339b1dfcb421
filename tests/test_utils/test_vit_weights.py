"""Converted timm / Google ViT weights reproduce timm's patch features in our backbones."""

import numpy as np
import pytest
import torch
from helpers import call_tool, reference_timm
from mmseg.registry import MODELS

from apc_mmseg.utils.vit_weights import convert, load_source

# ViT-B/16's layout (768 channels, 12 heads, 16 x 16 patches, 384 x 384) with 2
# of its 12 blocks: every key kind is converted and loaded strictly; the other
# ten blocks would repeat the same keys at 6x the forward time.
DEPTH = 2


@pytest.fixture(scope='module')
def timm():
    return reference_timm()


@pytest.fixture(scope='module')
def timm_vit(timm):
    torch.manual_seed(0)
    model = timm.create_model('vit_base_patch16_384', pretrained=False, num_classes=0,
                              dynamic_img_size=True, depth=DEPTH).eval()
    # timm zero-initialises some biases; randomise every tensor so that a
    # swapped or transposed key cannot go unnoticed.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


def timm_patch_features(model, x):
    with torch.no_grad():
        tokens = model.forward_features(x)[:, model.num_prefix_tokens:]
    B, N, D = tokens.shape
    h, w = x.shape[2] // 16, x.shape[3] // 16
    return tokens.transpose(1, 2).reshape(B, D, h, w)


def build_eval(cfg):
    model = MODELS.build(cfg)
    model.eval()  # mmpretrain's train() returns None, so no chaining
    return model


def mmpretrain_vit():
    arch = dict(embed_dims=768, num_layers=DEPTH, num_heads=12, feedforward_channels=3072)
    return build_eval(dict(type='mmpretrain.VisionTransformer', arch=arch, img_size=384,
                             patch_size=16, out_indices=(DEPTH - 1,), out_type='featmap',
                             final_norm=True, interpolate_mode='bicubic'))


def mmseg_vit():
    return build_eval(dict(type='VisionTransformer', img_size=384, patch_size=16,
                             embed_dims=768, num_layers=DEPTH, num_heads=12,
                             out_indices=(DEPTH - 1,),
                             final_norm=True, with_cls_token=True, patch_bias=True,
                             norm_cfg=dict(type='LN', eps=1e-6),
                             interpolate_mode='bicubic'))


def ours(backbone, x):
    with torch.no_grad():
        return backbone(x)[-1]


def timm_to_npz(model, path):
    """Write ``model`` in Google's .npz layout (the inverse of timm's npz reader)."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    D = sd['cls_token'].shape[-1]
    heads = model.blocks[0].attn.num_heads
    out = {'cls': sd['cls_token'],
           'Transformer/posembed_input/pos_embedding': sd['pos_embed'],
           'embedding/kernel': sd['patch_embed.proj.weight'].transpose(2, 3, 1, 0),
           'embedding/bias': sd['patch_embed.proj.bias'],
           'Transformer/encoder_norm/scale': sd['norm.weight'],
           'Transformer/encoder_norm/bias': sd['norm.bias']}
    for i in range(len(model.blocks)):
        b, p = f'blocks.{i}.', f'Transformer/encoderblock_{i}/'
        att = p + 'MultiHeadDotProductAttention_1/'
        q, k, v = np.split(sd[b + 'attn.qkv.weight'], 3)
        qb, kb, vb = np.split(sd[b + 'attn.qkv.bias'], 3)
        for name, w, bias in (('query', q, qb), ('key', k, kb), ('value', v, vb)):
            out[att + f'{name}/kernel'] = w.T.reshape(D, heads, D // heads)
            out[att + f'{name}/bias'] = bias.reshape(heads, D // heads)
        out[att + 'out/kernel'] = sd[b + 'attn.proj.weight'].T.reshape(heads, D // heads, D)
        out[att + 'out/bias'] = sd[b + 'attn.proj.bias']
        out[p + 'LayerNorm_0/scale'] = sd[b + 'norm1.weight']
        out[p + 'LayerNorm_0/bias'] = sd[b + 'norm1.bias']
        out[p + 'LayerNorm_2/scale'] = sd[b + 'norm2.weight']
        out[p + 'LayerNorm_2/bias'] = sd[b + 'norm2.bias']
        for j, name in ((0, 'fc1'), (1, 'fc2')):
            out[p + f'MlpBlock_3/Dense_{j}/kernel'] = sd[b + f'mlp.{name}.weight'].T
            out[p + f'MlpBlock_3/Dense_{j}/bias'] = sd[b + f'mlp.{name}.bias']
    np.savez(path, **out)


@pytest.fixture(scope='module')
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(1, 3, 384, 384, generator=g), torch.randn(1, 3, 480, 480, generator=g)


def test_mmpretrain_matches_timm(timm_vit, inputs, tmp_path):
    src = str(tmp_path / 'vit.pth')
    torch.save(timm_vit.state_dict(), src)
    dst = str(tmp_path / 'vit_mmpretrain.pth')
    call_tool('tools/model_converters/convert_vit_weights.py', [src, dst])
    backbone = mmpretrain_vit()
    backbone.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
    x384, x480 = inputs
    assert (ours(backbone, x384) - timm_patch_features(timm_vit, x384)).abs().max() < 1e-4
    # At 480 each library resizes the 24x24 position grid to 30x30 itself:
    # timm with antialiased bicubic (PIL's a=-0.5 kernel), mmpretrain with
    # plain bicubic (a=-0.75). The embeddings differ by a few 1e-3 and the
    # features (unit-variance after the final LayerNorm) by well under 0.05.
    diff = (ours(backbone, x480) - timm_patch_features(timm_vit, x480)).abs()
    assert diff.max() < 0.05 and diff.mean() < 5e-3


def test_mmseg_matches_timm(timm_vit, inputs, tmp_path):
    src = str(tmp_path / 'vit.safetensors')
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in timm_vit.state_dict().items()}, src)
    backbone = mmseg_vit()
    backbone.load_state_dict(convert(load_source(src), 'mmseg'), strict=True)
    x384, _ = inputs
    assert (ours(backbone, x384) - timm_patch_features(timm_vit, x384)).abs().max() < 1e-4


def test_google_npz(timm, timm_vit, inputs, tmp_path):
    from timm.models.vision_transformer import _load_weights
    path = str(tmp_path / 'ViT-B_16.npz')
    timm_to_npz(timm_vit, path)
    # The file is in Google's layout: timm's own npz reader gets the same model back.
    check = timm.create_model('vit_base_patch16_384', pretrained=False, num_classes=0,
                              depth=DEPTH).eval()
    _load_weights(check, path)
    for k, v in timm_vit.state_dict().items():
        torch.testing.assert_close(check.state_dict()[k], v, rtol=0, atol=0)
    backbone = mmpretrain_vit()
    backbone.load_state_dict(convert(load_source(path)), strict=True)
    x384, _ = inputs
    assert (ours(backbone, x384) - timm_patch_features(timm_vit, x384)).abs().max() < 1e-4


def test_not_a_vit_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'resnet.pth')
    torch.save({'conv1.weight': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='resnet.pth: not a timm ViT state dict'):
        convert(load_source(path), source=path)
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_source(str(tmp_path / 'nowhere.pth'))
