"""Which files ``tools/infer.py`` reads and where each one's outputs go.

The output folder holds the tool's record (``infer_outputs.json``, the files
it writes there; ``output_record``): a folder holding it is an output folder,
never read as input (so ``--out`` may lie inside the input folder), and
``--overwrite`` replaces only the files it lists. The tool writes only into a
new or empty folder or one it recorded; a file of the user's in the way is
refused by name.
"""
import os
import os.path as osp
from collections import Counter
from typing import List, Tuple

from .output_record import (
    RECORD_KEY,
    is_inside,
    not_listed,
    read_record,
    relative_names,
    show,
    user_files,
    write_record,
)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
OUTPUT_SUFFIXES = ('.png', '_prediction.png', '_heatmaps.png')
RECORD = 'infer_outputs.json'
_BROKEN_RECORD = 'Remove the folder (its outputs are made again) or choose another --out.'


def list_images(path: str) -> Tuple[str, List[str]]:
    """``(root, image paths)``: ``path`` itself, or every image under the
    folder ``path`` (sub-folders included), sorted. Output folders of the
    tool (holding its record) are skipped: their pictures are its outputs,
    and the record tells them from a user's images exactly (the tool writes
    into no folder of the user's)."""
    if osp.isfile(path):
        return osp.dirname(osp.abspath(path)), [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'no image or folder at {path}')
    if osp.lexists(osp.join(path, RECORD)):
        raise ValueError(f'{path}: is an output folder of tools/infer.py (it holds {RECORD}): '
                         'its pictures are outputs, not inputs')
    files = []
    for folder, subs, names in os.walk(path):
        subs[:] = [s for s in subs if not osp.lexists(osp.join(folder, s, RECORD))]
        files += [osp.join(folder, f) for f in names if f.lower().endswith(IMAGE_SUFFIXES)]
    files.sort()
    if not files:
        raise ValueError(f'{path} holds no image ({", ".join(IMAGE_SUFFIXES)})')
    return path, files


def output_stems(root: str, files: List[str], out: str, overwrite: bool = False) -> List[str]:
    """One output stem per image (``<stem>.png``, ``<stem>_prediction.png``,
    ``<stem>_heatmaps.png`` are written), mirroring the sub-folders under
    ``root``: the image's name without its suffix, or with it
    (``a.jpg`` -> ``a_jpg``) where two images would share a stem. Refuses to
    write over an input image, out of ``out`` (a link), into a folder that
    is not the tool's, over a file its record does not list, and over an
    earlier run's output unless ``overwrite``."""
    rel = [osp.relpath(osp.abspath(f), osp.abspath(root)) for f in files]
    plain = [osp.splitext(r)[0] for r in rel]
    shared = {s for s, n in Counter(plain).items() if n > 1}
    stems = [osp.join(out, s + '_' + osp.splitext(r)[1][1:] if s in shared else s)
             for s, r in zip(plain, rel)]
    twice = [s for s, n in Counter(stems).items() if n > 1]
    if twice:
        raise ValueError(f'{twice[0]}: two images would write the same outputs')
    inputs = {osp.realpath(f) for f in files}
    targets = [stem + suffix for stem in stems for suffix in OUTPUT_SUFFIXES]
    for target in targets:
        if osp.realpath(target) in inputs:
            raise ValueError(f'{target}: is an input image; choose another --out')
        if not is_inside(out, target):
            raise ValueError(f'{target}: leads out of --out {out} (through a link); '
                             'choose another --out')
    _check_ownership(out, relative_names(out, targets), overwrite)
    return stems


def _check_ownership(out: str, names: List[str], overwrite: bool) -> None:
    """Refuse ``out`` when it holds files but no record (not the tool's),
    any of ``names`` there that its record does not list (a user's file,
    even with ``overwrite``), and, without ``overwrite``, an earlier run's."""
    record = read_record(osp.join(out, RECORD), _BROKEN_RECORD)
    if record is None:
        in_the_way = [n for n in names if osp.lexists(osp.join(out, n))]
        present = user_files(out, RECORD)
        if present or in_the_way:  # a hidden file of the user's in the way too
            raise FileExistsError(
                f'{out}: holds files that tools/infer.py did not write '
                f'({show(in_the_way or present)}) and no {RECORD}; it writes only into a '
                'new or empty folder or one it recorded: choose another --out')
        return
    listed = record.get(RECORD_KEY, [])
    users = not_listed(out, names, listed)
    if users:
        raise FileExistsError(
            f"{osp.join(out, users[0])}: exists and is not an output of tools/infer.py "
            f"(not listed in {osp.join(out, RECORD)}"
            f"{'; also ' + show(users[1:]) if users[1:] else ''}); move it or choose "
            'another --out')
    if not overwrite:
        earlier = [n for n in names if osp.lexists(osp.join(out, n))]
        if earlier:
            raise FileExistsError(f'{osp.join(out, earlier[0])}: exists; use --overwrite to '
                                  'replace the outputs of an earlier run, or another --out')


def record_outputs(out: str, stems: List[str]) -> None:
    """Add the outputs of ``stems`` to the record of ``out`` (made if need
    be), before the first of them is written: a run stopped halfway has its
    files listed, so its rerun may replace them."""
    path = osp.join(out, RECORD)
    record = read_record(path, _BROKEN_RECORD) or {'tool': 'tools/infer.py'}
    names = relative_names(out, [s + suffix for s in stems for suffix in OUTPUT_SUFFIXES])
    record[RECORD_KEY] = sorted(set(record.get(RECORD_KEY, [])) | set(names))
    write_record(path, record)
