"""Let mmengine 0.10.7 read its own full checkpoints under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default; mmengine 0.10.7
does not say otherwise, and its checkpoints hold the message hub, whose
``HistoryBuffer`` pickles bound methods through ``getattr``: they cannot be
read by the weights-only unpickler without allowing ``getattr`` itself. So
mmengine's loader for local files is replaced by one that reads the file the
user named (resume, ``load_from``, ``init_model``, the inferencer) with
``weights_only=False``, exactly as mmengine did under torch < 2.6. Only
mmengine's checkpoint loading changes; ``torch.load`` elsewhere keeps its
safe default. Load checkpoints you trust, as with any pickle.
"""
import os.path as osp
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

# Root-module metadata key of the state dict naming its file, so that a model
# refusing the weights can say which file it was (torch hands a module's
# metadata to its load_state_dict hooks; mmengine keeps it when revising keys).
CHECKPOINT_SOURCE_KEY = 'apc_source'


def _load_full_checkpoint(filename, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        checkpoint = torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - a corrupt file: say which
        raise RuntimeError(f'{filename}: cannot be read as a checkpoint ({e})') from e
    if not isinstance(checkpoint, dict):
        return checkpoint
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
    """Register the full-checkpoint loader for local paths in mmengine."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_full_checkpoint)
