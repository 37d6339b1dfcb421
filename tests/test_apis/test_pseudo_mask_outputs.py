"""Pseudo masks touch only files they wrote (issue 41): no split line leads
out of the output folder, a file the folder's record does not list is never
reused nor replaced, and the record is written atomically and named when
broken."""
import json
import os
import shutil

import numpy as np
import pytest
from helpers import DEMO_CONFIG
from mmengine.config import Config
from PIL import Image

from apc_mmseg.apis import make_pseudo_masks

CLASSES = ('background', 'disc', 'square', 'triangle')


@pytest.fixture(scope='module')
def cfg(trained):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(trained[2])
    return cfg


def data_root(demo_data, tmp_path, ids, extra=()):
    """A data root under ``tmp_path``: ``ids`` (demo training images), a split
    ``split.txt`` listing them and ``extra`` (names given as they are, each
    with the labels of the first image), and their tags."""
    root = tmp_path / 'data'
    (root / 'JPEGImages').mkdir(parents=True)
    labels = json.load(open(os.path.join(demo_data, 'cls_labels.json')))
    for img_id in ids:
        shutil.copy(os.path.join(demo_data, 'JPEGImages', img_id + '.jpg'), root / 'JPEGImages')
    for name in extra:
        labels[name] = labels[ids[0]]
    (root / 'split.txt').write_text(''.join(f'{n}\n' for n in [*ids, *extra]))
    (root / 'cls_labels.json').write_text(json.dumps(labels))
    return root


def run(cfg, trained, root, out, **kwargs):
    return make_pseudo_masks(cfg, trained[1], str(out), ann_file='split.txt',
                             data_root=str(root), progress=False, **kwargs)


def png(path, value):
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(path)
    return path.read_bytes()


def test_a_split_name_that_leaves_the_output_folder_is_refused(cfg, trained, demo_data,
                                                              tmp_path):
    """`../../outside/x` (with a tag entry) counted tmp/outside/x.png as
    reused, and with overwrite replaced it; a link out of the folder is the
    same. Refused before anything is written, naming split, line and name."""
    root = data_root(demo_data, tmp_path, ['train_00000'], extra=['../../outside/x'])
    (tmp_path / 'outside').mkdir()
    shutil.copy(root / 'JPEGImages' / 'train_00000.jpg', tmp_path / 'outside' / 'x.jpg')
    theirs = png(tmp_path / 'outside' / 'x.png', 7)
    out = root / 'masks'
    said = (rf"{root / 'split.txt'}, line 2: image name '../../outside/x' would write "
            rf".*outside the output folder")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=said):
            run(cfg, trained, root, out, overwrite=overwrite)
    assert (tmp_path / 'outside' / 'x.png').read_bytes() == theirs and not out.exists()
    (root / 'split.txt').write_text('train_00000\nlink/x\n')
    labels = json.loads((root / 'cls_labels.json').read_text())
    (root / 'cls_labels.json').write_text(json.dumps(dict(labels, **{'link/x': []})))
    (root / 'JPEGImages' / 'link').mkdir()
    shutil.copy(root / 'JPEGImages' / 'train_00000.jpg', root / 'JPEGImages' / 'link' / 'x.jpg')
    out.mkdir()
    os.symlink(tmp_path / 'outside', out / 'link')
    with pytest.raises(ValueError, match=r"split.txt, line 2: image name 'link/x'"):
        run(cfg, trained, root, out, overwrite=True)
    assert (tmp_path / 'outside' / 'x.png').read_bytes() == theirs


def test_overwrite_replaces_only_the_files_the_record_lists(cfg, trained, demo_data, tmp_path):
    """A folder without a record is not the tool's, overwrite or not; in a
    recorded folder a mask the record does not list (the split grew, a
    user's file in its place) is neither reused nor replaced."""
    root = data_root(demo_data, tmp_path, ['train_00000', 'train_00001', 'train_00002'])
    out = root / 'masks'
    out.mkdir()
    mine = png(out / 'train_00000.png', 3)
    with pytest.raises(ValueError, match=r'masks: holds PNGs but no pseudo_masks.json.*'
                       r'train_00000.png'):
        run(cfg, trained, root, out, overwrite=True)
    assert (out / 'train_00000.png').read_bytes() == mine
    (out / 'train_00000.png').unlink()

    (root / 'split.txt').write_text('train_00000\ntrain_00001\n')
    first = run(cfg, trained, root, out)
    assert first['written'] == 2
    record = json.loads((out / 'pseudo_masks.json').read_text())
    assert record['files'] == ['train_00000.png', 'train_00001.png']
    mine = png(out / 'train_00002.png', 3)  # the user's, then the split grows
    (root / 'split.txt').write_text('train_00000\ntrain_00001\ntrain_00002\n')
    for overwrite, verb in ((False, 'reused'), (True, 'replaced')):
        with pytest.raises(ValueError, match=rf'masks: train_00002.png would be {verb} but '
                           r'pseudo_masks.json does not list them'):
            run(cfg, trained, root, out, overwrite=overwrite)
    assert (out / 'train_00002.png').read_bytes() == mine
    (out / 'train_00002.png').unlink()
    again = run(cfg, trained, root, out, overwrite=True)
    assert (again['written'], again['reused']) == (3, 0)
    assert json.loads((out / 'pseudo_masks.json').read_text())['files'] == \
        ['train_00000.png', 'train_00001.png', 'train_00002.png']


def test_the_record_is_replaced_whole_with_the_mode_of_open(cfg, trained, demo_data,
                                                            tmp_path):
    """A rewrite never truncates the record in place (a reader, or a run killed
    meanwhile, sees the old record or the new one): the old file, kept by a
    hard link, is intact. The new one has open()'s mode; nothing is left
    beside it."""
    root = data_root(demo_data, tmp_path, ['train_00000'])
    out = root / 'masks'
    mask = os.umask(0o027)
    try:
        run(cfg, trained, root, out)
        old = (out / 'pseudo_masks.json').read_bytes()
        os.link(out / 'pseudo_masks.json', tmp_path / 'kept.json')
        run(cfg, trained, root, out, flip=True, overwrite=True)
    finally:
        os.umask(mask)
    assert (tmp_path / 'kept.json').read_bytes() == old
    assert json.loads((out / 'pseudo_masks.json').read_text())['flip'] is True
    assert os.stat(out / 'pseudo_masks.json').st_mode & 0o777 == 0o666 & ~0o027
    assert sorted(os.listdir(out)) == ['pseudo_masks.json', 'train_00000.png']


@pytest.mark.parametrize('content', ['', '{"checkpoint_sha256": "ab', '[]'])
def test_a_broken_record_is_named_with_what_to_do(cfg, trained, demo_data, tmp_path, content):
    root = data_root(demo_data, tmp_path, ['train_00000'])
    out = root / 'masks'
    run(cfg, trained, root, out)
    (out / 'pseudo_masks.json').write_text(content)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=rf"{out / 'pseudo_masks.json'}: is not a "
                           r'(readable )?record.*Remove the folder'):
            run(cfg, trained, root, out, overwrite=overwrite)


def test_a_record_without_a_file_list_still_resumes(cfg, trained, demo_data, tmp_path):
    """A folder recorded before records listed files is the tool's: its masks
    are reused, and the record gains the list."""
    root = data_root(demo_data, tmp_path, ['train_00000', 'train_00001'])
    out = root / 'masks'
    run(cfg, trained, root, out)
    record = json.loads((out / 'pseudo_masks.json').read_text())
    files = record.pop('files')
    (out / 'pseudo_masks.json').write_text(json.dumps(record))
    (out / 'train_00001.png').unlink()  # an interrupted run
    again = run(cfg, trained, root, out)
    assert (again['written'], again['reused']) == (1, 1)
    assert json.loads((out / 'pseudo_masks.json').read_text())['files'] == files


def test_a_record_without_a_file_list_replaces_nothing(cfg, trained, demo_data, tmp_path):
    """``{}`` as pseudo_masks.json (an earlier version's record, or one made
    up): which files are the tool's is unknown, so --overwrite is refused and
    the user's file stays."""
    root = data_root(demo_data, tmp_path, ['train_00000'])
    out = root / 'masks'
    out.mkdir()
    mine = png(out / 'train_00000.png', 3)
    (out / 'pseudo_masks.json').write_text('{}')
    with pytest.raises(ValueError, match=r'pseudo_masks.json: lists no files.*none of the '
                                         r'folder may be replaced'):
        run(cfg, trained, root, out, overwrite=True)
    assert (out / 'train_00000.png').read_bytes() == mine


def test_a_hidden_file_of_the_users_in_the_way_is_refused(cfg, trained, demo_data, tmp_path):
    """A folder with no record and only a hidden file counts as empty, but a
    hidden name the run would write (split line ``.notes``) is the user's."""
    root = data_root(demo_data, tmp_path, ['train_00000'])
    shutil.copy(root / 'JPEGImages' / 'train_00000.jpg', root / 'JPEGImages' / '.notes.jpg')
    (root / 'split.txt').write_text('.notes\n')
    labels = json.loads((root / 'cls_labels.json').read_text())
    (root / 'cls_labels.json').write_text(json.dumps(dict(labels, **{
        '.notes': labels['train_00000']})))
    out = root / 'masks'
    out.mkdir()
    mine = png(out / '.notes.png', 3)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"masks: .notes.png would be replaced but the "
                                             r"folder has no pseudo_masks.json"):
            run(cfg, trained, root, out, overwrite=overwrite)
    assert (out / '.notes.png').read_bytes() == mine
