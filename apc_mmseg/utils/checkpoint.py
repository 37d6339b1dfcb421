"""Checkpoints are data: every checkpoint mmengine loads, from any source, is
read weights-only.

torch >= 2.6 loads with ``weights_only=True`` by default, but mmengine 0.10.7
reaches ``torch.load`` along paths that do not keep that default (its URL
loaders go through ``torch.hub.load_state_dict_from_url``, whose default is
``weights_only=False``), and its full checkpoints hold the message hub's
``HistoryBuffer`` objects and numpy values, which a weights-only unpickler
refuses. So:

- saving: ``CheckpointAsDataHook`` (in every APC config) writes the message
  hub and the metadata as plain data (``plain``), restored on loading;
- loading: every path scheme mmengine's ``CheckpointLoader`` knows (local
  files, ``http(s)://``, ``torchvision://``/``modelzoo://``,
  ``open-mmlab://``/``openmmlab://``, ``mmcls://``, ``pavi://``,
  ``s3://``/``petrel://``) is served by a loader of this module that fetches
  the bytes the way mmengine does and reads them with ``load_checkpoint_file``:
  weights-only; a file that needs arbitrary unpickling is refused with an
  error naming it and the classes it wants, and is loaded the old way only
  when ``APC_MMSEG_TRUST_CHECKPOINTS`` is true; a file torch cannot read at
  all is called broken, never "untrusted". The state dict also carries the
  file's name, so a model refusing the weights can say which file it was.
"""
import io
import os
import os.path as osp
import pickle
from collections import OrderedDict
from tempfile import TemporaryDirectory
from typing import Union

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

# Root-module metadata key of the state dict naming its file, so that a model
# refusing the weights can say which file it was (torch hands a module's
# metadata to its load_state_dict hooks; mmengine keeps it when revising keys).
CHECKPOINT_SOURCE_KEY = 'apc_source'
TRUST_ENV = 'APC_MMSEG_TRUST_CHECKPOINTS'
TRUE_VALUES = ('1', 'true', 'yes', 'on')
FALSE_VALUES = ('', '0', 'false', 'no', 'off')
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


def checkpoints_trusted() -> bool:
    """Whether ``APC_MMSEG_TRUST_CHECKPOINTS`` says the user trusts every
    checkpoint (1/true/yes/on; unset, 0/false/no/off: no). Any other value
    is refused rather than guessed."""
    value = os.environ.get(TRUST_ENV, '').strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValueError(f'{TRUST_ENV}={os.environ[TRUST_ENV]!r}: expected one of '
                     f"{', '.join(TRUE_VALUES)} (trust) or {', '.join(FALSE_VALUES[1:])} "
                     '(do not)')


def _torch_reason(error: Exception) -> str:
    """The line of torch's message that says what was wrong (its
    weights-only errors wrap it in paragraphs of advice)."""
    advice = ('Weights only load failed', 'Check the documentation', 'Please file an issue')
    parts = [p.strip() for p in str(error).split('\n\n')
             if p.strip() and not p.strip().startswith(advice)]
    return parts[-1].splitlines()[-1].strip() if parts else type(error).__name__


def _refusal(name: str, source: Union[str, io.BytesIO], error: Exception) -> str:
    wanted = []
    try:
        wanted = torch.serialization.get_unsafe_globals_in_checkpoint(source)
    except Exception:  # noqa: BLE001 - not a zip checkpoint: torch's message names the class
        pass
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)
    what = ', '.join(wanted) or _torch_reason(error)
    return (f'{name}: refused: loading it needs arbitrary unpickling ({what}), so it could '
            'run code on loading. Checkpoints written by this version load without it. If '
            f'you trust this file, set {TRUST_ENV}=1 to load it with '
            'torch.load(weights_only=False)')


def _needs_globals(error: Exception) -> bool:
    """Whether torch's weights-only refusal is about a class the file names
    (``GLOBAL ...``), rather than bytes that are no pickle at all."""
    return isinstance(error, pickle.UnpicklingError) and 'GLOBAL' in str(error)


def load_checkpoint_file(source: Union[str, io.BytesIO], map_location=None,
                         name: str = None):
    """``torch.load`` under the project's policy; ``source`` is a local path
    or the bytes of one, ``name`` what errors call it (default: the path).

    Weights-only unless ``checkpoints_trusted()``; a file that needs more is
    refused (``RuntimeError`` naming it, the classes it wants and the opt-in);
    a file torch cannot read is called broken, naming it and torch's reason.
    """
    name = name or source
    trusted = checkpoints_trusted()
    try:
        return torch.load(source, map_location=map_location, weights_only=not trusted)
    except Exception as e:  # noqa: BLE001 - every failure names the file
        if not trusted and _needs_globals(e):
            raise RuntimeError(_refusal(name, source, e)) from None
        raise RuntimeError(f'{name}: broken or not a checkpoint: torch cannot read it '
                           f'({type(e).__name__}: {_torch_reason(e)})') from e


def _as_mmengine_checkpoint(checkpoint, name: str):
    """The loaded object as mmengine expects it: message-hub buffers
    restored, the state dict an ``OrderedDict`` carrying ``name``."""
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
        meta.setdefault('', {})[CHECKPOINT_SOURCE_KEY] = name
    return checkpoint


def load_local(filename, map_location=None):
    """Scheme ``''``: a local file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return _as_mmengine_checkpoint(load_checkpoint_file(filename, map_location), filename)


def _torch_home_checkpoints() -> str:
    """Where mmengine's URL loader caches downloads (``$TORCH_HOME/checkpoints``)."""
    home = os.getenv('TORCH_HOME',
                     osp.join(os.getenv('XDG_CACHE_HOME', '~/.cache'), 'torch'))
    return osp.join(osp.expanduser(home), 'checkpoints')


def _download(url: str, model_dir: str = None) -> str:
    """The cached copy of ``url`` (downloaded once, by torch's downloader,
    which writes to a temporary file and renames it)."""
    model_dir = model_dir or _torch_home_checkpoints()
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(url.split('?')[0].rstrip('/')) or 'checkpoint')
    if not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, progress=False)
    return cached


def load_url(url, map_location=None, model_dir=None):
    """Schemes ``http://``, ``https://``: downloaded as mmengine does (local
    rank 0 first, the others after a barrier, one cache), then read as a local
    file under the policy."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = _download(url, model_dir)
    if world_size > 1:
        barrier()
        if rank > 0:
            cached = _download(url, model_dir)
    return _as_mmengine_checkpoint(load_checkpoint_file(cached, map_location,
                                                        name=f'{url} ({cached})'), url)


def load_torchvision(filename, map_location=None):
    """Schemes ``torchvision://NAME``, ``modelzoo://NAME``: torchvision's URL."""
    name = filename.split('://', 1)[1]
    return load_url(mmengine_checkpoint.get_torchvision_models()[name], map_location)


def load_openmmlab(filename, map_location=None):
    """Schemes ``open-mmlab://NAME``, ``openmmlab://NAME``: mmengine's table
    (a URL, or a file under mmengine's home)."""
    name = filename.split('://', 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    target = mmengine_checkpoint.get_external_models()[name]
    if target.startswith(('http://', 'https://')):
        return load_url(target, map_location)
    return load_local(osp.join(mmengine_checkpoint._get_mmengine_home(), target), map_location)


def load_mmcls(filename, map_location=None):
    """Scheme ``mmcls://NAME``: mmcls's URL, its keys renamed as mmengine does."""
    url = mmengine_checkpoint.get_mmcls_models()[filename[len('mmcls://'):]]
    return mmengine_checkpoint._process_mmcls_checkpoint(load_url(url, map_location))


def load_pavi(filename, map_location=None):
    """Scheme ``pavi://``: downloaded by pavi's model cloud, read under the policy."""
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp:
        path = osp.join(tmp, model.name)
        model.download(path)
        return _as_mmengine_checkpoint(
            load_checkpoint_file(path, map_location, name=filename), filename)


def load_ceph(filename, map_location=None, backend='petrel'):
    """Schemes ``s3://``, ``petrel://``: bytes from mmengine's file backend."""
    from mmengine.fileio import get_file_backend
    data = get_file_backend(filename, backend_args=dict(backend=backend)).get(filename)
    return _as_mmengine_checkpoint(
        load_checkpoint_file(io.BytesIO(data), map_location, name=filename), filename)


# mmengine 0.10.7's prefixes, each given its loader here (a test checks that
# no prefix mmengine knows is left with mmengine's own).
SCHEMES = {
    '': load_local,
    ('http://', 'https://'): load_url,
    ('modelzoo://', 'torchvision://'): load_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_openmmlab,
    'mmcls://': load_mmcls,
    'pavi://': load_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_ceph,
}


def allow_mmengine_checkpoints() -> None:
    """Serve every path scheme of mmengine's ``CheckpointLoader`` with the
    loaders above (weights-only unless the user trusts the files)."""
    for prefixes, loader in SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes=prefixes, force=True)(loader)
