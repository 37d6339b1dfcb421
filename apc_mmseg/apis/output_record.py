"""The record a tool keeps in its output folder of the files it writes there.

The rule for every tool that writes a folder of results (pseudo masks,
``tools/infer.py``): it writes only into a folder that it made (absent or
empty) or that holds its record, never follows a name out of that folder, and
replaces a file (``--overwrite``, or a resumed run) only when its record lists
it; a file of the user's in the way is refused by name. The record is written
before the first output, listing every file the run will write, so an
interrupted run's files are listed too (a run over thousands of images
rewrites no growing list per file). Records are written atomically: a killed
write leaves the previous record, never a truncated one.
"""
import json
import os
import os.path as osp
from typing import Iterable, List, Optional

from ..utils.atomic_file import AtomicLocalBackend

RECORD_KEY = 'files'  # the record's list of the files written, relative to the folder


def write_record(path: str, record: dict) -> None:
    """Write ``record`` (JSON) to ``path`` atomically (a temporary file in the
    same folder, then ``os.replace``; the mode of a plain ``open()``)."""
    AtomicLocalBackend().put_text(json.dumps(record, indent=1, sort_keys=True), path)


def read_record(path: str, remedy: str) -> Optional[dict]:
    """The record at ``path``, or None when there is none. A record that is
    not a whole JSON object (truncated, edited) stops the tool with an error
    naming it and ``remedy``: without it, no file of the folder is known to
    be the tool's, so none may be reused or replaced."""
    if not osp.lexists(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f'{path}: is not a readable record of this folder ({e}); it lists the '
                         f'files the tool wrote here, so none can be reused or replaced. '
                         f'{remedy}') from e
    if not isinstance(record, dict) or not isinstance(record.get(RECORD_KEY, []), list):
        raise ValueError(f'{path}: is not a record of this folder (a JSON object with a '
                         f'{RECORD_KEY!r} list). {remedy}')
    return record


def user_files(folder: str, record_name: str) -> List[str]:
    """The names in ``folder`` (not recursive) other than its record, sorted;
    hidden names (``.DS_Store``, ``.gitkeep``, a killed write's temporary
    file) make no folder a user's and are left out."""
    if not osp.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if n != record_name and not n.startswith('.'))


def is_inside(folder: str, path: str) -> bool:
    """Whether ``path``, with every link and ``..`` resolved, lies strictly
    inside ``folder`` (resolved too)."""
    folder, path = osp.realpath(folder), osp.realpath(path)
    return path != folder and osp.commonpath([folder, path]) == folder


def relative_names(folder: str, paths: Iterable[str]) -> List[str]:
    """``paths`` relative to ``folder``, with '/' (the record's names)."""
    return [osp.relpath(p, folder).replace(os.sep, '/') for p in paths]


def not_listed(folder: str, names: Iterable[str], listed: Iterable[str]) -> List[str]:
    """The ``names`` (relative to ``folder``) that exist there but are not
    ``listed`` in the folder's record: a user's files in the way."""
    listed = set(listed)
    return [n for n in names if n not in listed and osp.lexists(osp.join(folder, n))]


def show(names: List[str], most: int = 5) -> str:
    """``names`` for an error message, the first ``most`` of them."""
    more = f' and {len(names) - most} more' if len(names) > most else ''
    return ', '.join(names[:most]) + more
