"""Convert a timm or Google ViT checkpoint to mmpretrain's or mmseg's ViT keys.

Inputs: a timm state dict (``.pth``/``.bin``/``.safetensors``, e.g. of
``vit_base_patch16_384.orig_in21k_ft_in1k``) or Google's original ``.npz``.
Position embeddings are kept at their stored grid; the backbones resize them
to the input's grid themselves. The classifier head is dropped. mmseg's ViT
needs `patch_bias=True` (the original ViT has a patch-embedding bias).

Command line: ``tools/model_converters/convert_vit_weights.py``.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict

import numpy as np
import torch

from .checkpoint import load_checkpoint_file

# timm key pattern -> mmpretrain / mmseg key template.
_BLOCK_RULES = {
    'mmpretrain': [
        (r'blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
        (r'blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
        (r'blocks\.(\d+)\.attn\.qkv\.', r'layers.\1.attn.qkv.'),
        (r'blocks\.(\d+)\.attn\.proj\.', r'layers.\1.attn.proj.'),
        (r'blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
        (r'blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    ],
    'mmseg': [
        (r'blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
        (r'blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
        (r'blocks\.(\d+)\.attn\.qkv\.weight', r'layers.\1.attn.attn.in_proj_weight'),
        (r'blocks\.(\d+)\.attn\.qkv\.bias', r'layers.\1.attn.attn.in_proj_bias'),
        (r'blocks\.(\d+)\.attn\.proj\.', r'layers.\1.attn.attn.out_proj.'),
        (r'blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
        (r'blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    ],
}
_COMMON_RULES = [
    (r'^cls_token$', 'cls_token'),
    (r'^pos_embed$', 'pos_embed'),
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^norm\.', 'ln1.'),
]
_DROPPED = re.compile(r'^(head|fc_norm|pre_logits)\.')


def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).float()


def npz_to_timm(npz: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    """Google's ViT ``.npz`` (Flax names) -> timm's state-dict layout."""
    sd = OrderedDict()
    sd['cls_token'] = _t(npz['cls'])
    sd['pos_embed'] = _t(npz['Transformer/posembed_input/pos_embedding'])
    sd['patch_embed.proj.weight'] = _t(npz['embedding/kernel'].transpose(3, 2, 0, 1))
    sd['patch_embed.proj.bias'] = _t(npz['embedding/bias'])
    sd['norm.weight'] = _t(npz['Transformer/encoder_norm/scale'])
    sd['norm.bias'] = _t(npz['Transformer/encoder_norm/bias'])
    i = 0
    while f'Transformer/encoderblock_{i}/LayerNorm_0/scale' in npz:
        p = f'Transformer/encoderblock_{i}/'
        att = p + 'MultiHeadDotProductAttention_1/'
        dim = npz[att + 'query/kernel'].shape[0]
        sd[f'blocks.{i}.norm1.weight'] = _t(npz[p + 'LayerNorm_0/scale'])
        sd[f'blocks.{i}.norm1.bias'] = _t(npz[p + 'LayerNorm_0/bias'])
        sd[f'blocks.{i}.attn.qkv.weight'] = torch.cat(
            [_t(npz[att + f'{n}/kernel'].reshape(dim, -1).T) for n in ('query', 'key', 'value')])
        sd[f'blocks.{i}.attn.qkv.bias'] = torch.cat(
            [_t(npz[att + f'{n}/bias'].reshape(-1)) for n in ('query', 'key', 'value')])
        sd[f'blocks.{i}.attn.proj.weight'] = _t(npz[att + 'out/kernel'].reshape(-1, dim).T)
        sd[f'blocks.{i}.attn.proj.bias'] = _t(npz[att + 'out/bias'])
        sd[f'blocks.{i}.norm2.weight'] = _t(npz[p + 'LayerNorm_2/scale'])
        sd[f'blocks.{i}.norm2.bias'] = _t(npz[p + 'LayerNorm_2/bias'])
        for j, name in ((0, 'fc1'), (1, 'fc2')):
            sd[f'blocks.{i}.mlp.{name}.weight'] = _t(npz[p + f'MlpBlock_3/Dense_{j}/kernel'].T)
            sd[f'blocks.{i}.mlp.{name}.bias'] = _t(npz[p + f'MlpBlock_3/Dense_{j}/bias'])
        i += 1
    if i == 0:
        raise ValueError('no Transformer/encoderblock_0 in the .npz: not a Google ViT')
    return sd


def load_source(path: str) -> Dict[str, torch.Tensor]:
    """Read a checkpoint in any supported format as a timm-layout state dict."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        if path.endswith('.npz'):
            with np.load(path) as npz:
                return npz_to_timm({k: npz[k] for k in npz.files})
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file  # optional: for these files only
            sd = load_file(path)
        else:
            sd = load_checkpoint_file(path, map_location='cpu')  # names the file itself
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f'{path}: cannot read as a ViT checkpoint ({e})') from e
    for key in ('state_dict', 'model', 'module'):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in sd.items())


def convert(sd: Dict[str, torch.Tensor], target: str = 'mmpretrain',
            source: str = '?') -> Dict[str, torch.Tensor]:
    """timm-layout ViT state dict -> the ``target`` library's ViT keys."""
    if 'blocks.0.attn.qkv.weight' not in sd or 'patch_embed.proj.weight' not in sd:
        raise ValueError(f'{source}: not a timm ViT state dict (no blocks.0.attn.qkv.weight '
                         f'or patch_embed.proj.weight; first keys: {list(sd)[:5]})')
    rules = [(re.compile(a), b) for a, b in _BLOCK_RULES[target] + _COMMON_RULES]
    out = OrderedDict()
    for key, value in sd.items():
        if _DROPPED.match(key):
            continue
        for pattern, repl in rules:
            if pattern.search(key):
                out[pattern.sub(repl, key)] = value.detach().float().clone()
                break
        else:
            raise ValueError(f'{source}: unexpected key {key!r} for a plain ViT')
    return out
