"""Figure blocks in the docs that cannot go stale silently.

A command that measures figures writes them into a page between
``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` (``write_figures``)
and records beside them, in ``docs/figures/NAME.json``, what made them: the
command, and a fingerprint's parts (``fingerprint``): each merged config,
each checkpoint's SHA-256, each generated data set's record, and the SHA-256
of the source of every ``apc_mmseg`` / ``apc_lab`` module the run had
loaded. ``check_record`` recomputes the parts from the tree and names what
changed; ``tests/test_docs_figures.py`` runs it for every record, so a table
that no longer matches the code fails a test, and remaking it is the
recorded command.
"""
import hashlib
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RECORDS = osp.join(REPO, 'docs', 'figures')
PACKAGES = ('apc_mmseg', 'apc_lab')


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str) -> str:
    with open(path, 'rb') as f:
        return _sha256(f.read())


def config_digest(config: str, options: dict) -> str:
    """SHA-256 of ``config`` merged with ``options`` (as JSON, keys sorted)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    return _sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())


def loaded_sources() -> Dict[str, str]:
    """SHA-256 of each loaded module of this project, by path from the repository."""
    out = {}
    for module in list(sys.modules.values()):
        path = getattr(module, '__file__', None)
        if not path or not path.endswith('.py'):
            continue
        rel = osp.relpath(osp.realpath(path), REPO)
        if rel.split(os.sep)[0] in PACKAGES:
            out[rel] = file_digest(osp.join(REPO, rel))
    return dict(sorted(out.items()))


def fingerprint(configs: Dict[str, dict], checkpoints: List[str],
                datasets: List[dict]) -> dict:
    """The parts: ``configs`` (path from the repository -> the options merged
    into it) with their digests, the checkpoints' SHA-256 (paths from the
    repository), the data sets' generation records, the loaded sources."""
    return dict(
        configs={path: dict(options=options,
                            sha256=config_digest(osp.join(REPO, path), options))
                 for path, options in configs.items()},
        checkpoints={path: file_digest(osp.join(REPO, path)) for path in checkpoints},
        datasets=datasets, sources=loaded_sources())


def digest(parts: dict) -> str:
    return _sha256(json.dumps(parts, sort_keys=True).encode())[:16]


def _block(name: str, text: str, command: str, key: str) -> str:
    return (f'<!-- figures:{name} -->\n{text.rstrip()}\n\n<sub>Written by `{command}`; '
            f'fingerprint `{key}` (docs/figures/{name}.json, checked by '
            f'tests/test_docs_figures.py).</sub>\n<!-- /figures:{name} -->')


def block_pattern(name: str):
    return re.compile(rf'<!-- figures:{re.escape(name)} -->.*?<!-- /figures:{re.escape(name)} -->',
                      re.S)


def write_figures(page: str, name: str, text: str, command: str, parts: dict) -> str:
    """Put ``text`` into ``page``'s block ``name`` (which must exist) and write
    the record; returns the fingerprint."""
    path = osp.join(REPO, page)
    with open(path) as f:
        content = f.read()
    if not block_pattern(name).search(content):
        raise ValueError(f'{page}: no block <!-- figures:{name} --> ... '
                         f'<!-- /figures:{name} --> to write into')
    key = digest(parts)
    content = block_pattern(name).sub(lambda m: _block(name, text, command, key), content)
    with open(path, 'w') as f:
        f.write(content)
    os.makedirs(RECORDS, exist_ok=True)
    with open(osp.join(RECORDS, f'{name}.json'), 'w') as f:
        json.dump(dict(name=name, page=page, command=command, text=text.rstrip(),
                       fingerprint=key, parts=parts), f, indent=1, sort_keys=True)
    return key


def check_record(record: dict) -> List[str]:
    """What no longer matches ``record`` in the tree (empty: the figures stand)."""
    from .demo_data import generation_record
    parts, changed = record['parts'], []
    for path, entry in parts['configs'].items():
        if not osp.isfile(osp.join(REPO, path)):
            changed.append(f'config {path} is gone')
        elif config_digest(osp.join(REPO, path), entry['options']) != entry['sha256']:
            changed.append(f'config {path} (merged) changed')
    for path, sha in parts['checkpoints'].items():
        if not osp.isfile(osp.join(REPO, path)) or file_digest(osp.join(REPO, path)) != sha:
            changed.append(f'checkpoint {path} changed')
    for data in parts['datasets']:
        now = generation_record(data['num_train'], data['num_val'], data['seed'],
                                data['dataset'], data['num_test'])
        if now != data:
            changed.append(f"generated set {data['dataset']} changed ({now} != {data})")
    for path, sha in parts['sources'].items():
        if not osp.isfile(osp.join(REPO, path)) or file_digest(osp.join(REPO, path)) != sha:
            changed.append(f'source {path} changed')
    with open(osp.join(REPO, record['page'])) as f:
        block = block_pattern(record['name']).search(f.read())
    if block is None or block.group(0) != _block(record['name'], record['text'],
                                                 record['command'], record['fingerprint']):
        changed.append(f"{record['page']}: the block differs from what the command wrote")
    if digest(parts) != record['fingerprint']:
        changed.append('the record was edited (its parts do not give its fingerprint)')
    return changed
