"""Checkpoints are data: mmengine's loader for local files, weights-only.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7
does not say otherwise, yet its full checkpoints hold the message hub's
``HistoryBuffer`` objects (whose pickle reaches their methods through
``getattr``) and numpy values: they cannot be read weights-only. Loading them
with ``weights_only=False`` would make every checkpoint code: a ``.pth``
whose pickle runs a command would run it on ``tools/test.py``, ``init_model``,
the inferencer, ``--resume`` and ``load_from``. Instead:

- saving: ``CheckpointAsDataHook`` (in every APC config) writes the message
  hub and the metadata as plain data (``plain``), restored on loading;
- loading: mmengine's loader for local paths (scheme ``''``) is replaced by
  one that loads weights-only, refuses a file that needs more with an error
  naming the file and the classes it wants, and loads it the old way only
  when ``APC_MMSEG_TRUST_CHECKPOINTS=1`` says the user trusts it. The state
  dict also carries the file's name, so a model refusing the weights can say
  which file it was.
"""
import os
import os.path as osp
import pickle
from collections import OrderedDict

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

# Root-module metadata key of the state dict naming its file, so that a model
# refusing the weights can say which file it was (torch hands a module's
# metadata to its load_state_dict hooks; mmengine keeps it when revising keys).
CHECKPOINT_SOURCE_KEY = 'apc_source'
TRUST_ENV = 'APC_MMSEG_TRUST_CHECKPOINTS'
# A HistoryBuffer written as plain data carries this key.
PLAIN_BUFFER_KEY = '__history_buffer__'


def plain(obj):
    """``obj`` as data the weights-only unpickler reads: numpy values as
    Python numbers and lists, ``HistoryBuffer`` as a marked dict, mapping
    subclasses (``ConfigDict``) as ``dict``; tensors and builtins as they are."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {PLAIN_BUFFER_KEY: True, 'log': log.tolist(), 'count': count.tolist(),
                'max_length': obj.max_length}
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    if isinstance(obj, dict):
        mapping_type = OrderedDict if isinstance(obj, OrderedDict) else dict
        return mapping_type((k, plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        items = [plain(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def restore_history_buffers(message_hub_state: dict) -> None:
    """Turn the plain buffers of a saved message hub back into
    ``HistoryBuffer`` objects (in place), as mmengine's resume expects."""
    scalars = message_hub_state.get('log_scalars') or {}
    for key, value in scalars.items():
        if isinstance(value, dict) and value.get(PLAIN_BUFFER_KEY):
            scalars[key] = HistoryBuffer(value['log'], value['count'], value['max_length'])


def _refusal(filename: str) -> str:
    try:
        wanted = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # noqa: BLE001 - the message still names the file
        wanted = []
    return (f'{filename}: refused: loading it needs arbitrary unpickling '
            f"({', '.join(wanted) or 'classes outside torch’s weights-only set'}), "
            'so it could run code on loading. Checkpoints written by this version load '
            f'without it. If you trust this file, set {TRUST_ENV}=1 to load it with '
            "torch.load(weights_only=False)")


def _load_full_checkpoint(filename, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    trusted = os.environ.get(TRUST_ENV) == '1'
    try:
        checkpoint = torch.load(filename, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as e:
        if trusted:
            raise RuntimeError(f'{filename}: cannot be read as a checkpoint ({e})') from e
        raise RuntimeError(_refusal(filename)) from None
    except Exception as e:  # noqa: BLE001 - a corrupt file: say which
        raise RuntimeError(f'{filename}: cannot be read as a checkpoint ({e})') from e
    if not isinstance(checkpoint, dict):
        return checkpoint
    if isinstance(checkpoint.get('message_hub'), dict):
        restore_history_buffers(checkpoint['message_hub'])
    if 'state_dict' in checkpoint:
        state = checkpoint['state_dict']
        if isinstance(state, dict) and not isinstance(state, OrderedDict):
            state = checkpoint['state_dict'] = OrderedDict(state)
    else:  # bare weights: mmengine loads the dict itself
        state = checkpoint = OrderedDict(checkpoint)
    if isinstance(state, dict):
        meta = getattr(state, '_metadata', None)
        if meta is None:
            meta = state._metadata = OrderedDict()
        meta.setdefault('', {})[CHECKPOINT_SOURCE_KEY] = filename
    return checkpoint


def allow_mmengine_checkpoints() -> None:
    """Register the weights-only loader for local paths in mmengine."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_full_checkpoint)
