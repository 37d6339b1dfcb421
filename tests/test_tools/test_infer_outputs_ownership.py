"""tools/infer.py touches only files it wrote (issue 41): its output folder
records them (infer_outputs.json), --overwrite replaces only those, a user's
file in the way is refused by name, and an output folder is never read as
input."""
import json
import os
import shutil

import pytest
from helpers import DEMO_CONFIG, cfg_options_argv, load_tool

from apc_mmseg.apis.infer_outputs import RECORD, list_images, output_stems, record_outputs


@pytest.fixture
def image(demo_data, tmp_path):
    """``<tmp>/photos/a.jpg``, a real picture (a copy: the tool may write
    next to it)."""
    folder = tmp_path / 'photos'
    folder.mkdir()
    shutil.copy(os.path.join(demo_data, 'JPEGImages', 'val_00016.jpg'), folder / 'a.jpg')
    return folder / 'a.jpg'


def infer(trained, *args):
    """tools/infer.py's main() in this process, on the session's checkpoint."""
    _, ckpt, options = trained
    load_tool('tools/infer.py').main([DEMO_CONFIG, ckpt, *map(str, args),
                                      *cfg_options_argv(options)])


def test_overwrite_never_replaces_the_users_png_beside_the_image(trained, image):
    """The issue's case: `infer.py dir/a.jpg --out dir --overwrite` replaced
    the user's own dir/a.png. --overwrite replaces an earlier run's outputs
    only; the user's file is named and left as it was."""
    mine = image.parent / 'a.png'
    mine.write_bytes(b'my own picture')
    for flags in ([], ['--overwrite']):
        with pytest.raises(FileExistsError, match=f'{mine.name}.*no {RECORD}'):
            infer(trained, image, '--out', image.parent, *flags)
    assert mine.read_bytes() == b'my own picture'
    assert sorted(p.name for p in image.parent.iterdir()) == ['a.jpg', 'a.png']


def test_an_output_folder_inside_the_input_folder_is_never_read_as_input(trained, image):
    """`infer.py dir --out dir/results` twice: the second run reads a.jpg
    only, not the first run's pictures (they would get outputs of their own
    under results/results/)."""
    out = image.parent / 'results'
    infer(trained, image.parent, '--out', out)
    outputs = ['a.png', 'a_heatmaps.png', 'a_prediction.png']
    first = sorted(p.name for p in out.iterdir())
    assert set(outputs) <= set(first) and len(first) <= 4
    infer(trained, image.parent, '--out', out, '--overwrite')
    assert sorted(p.name for p in out.iterdir()) == first
    assert first == outputs + [RECORD]
    assert json.loads((out / RECORD).read_text())['files'] == outputs


def test_overwrite_replaces_only_the_files_the_record_lists(tmp_path):
    """A recorded folder: the record's files are replaced with --overwrite;
    a user's file in the way (not listed) is refused, flag or not."""
    images = tmp_path / 'imgs'
    images.mkdir()
    for name in ('a.jpg', 'b.jpg'):
        (images / name).write_bytes(b'x')
    root, files = list_images(str(images))
    out = tmp_path / 'out'
    record_outputs(str(out), [str(out / 'a')])  # an earlier run on a.jpg alone
    (out / 'a.png').write_bytes(b'earlier run')
    (out / 'b_heatmaps.png').write_bytes(b'mine')
    for overwrite in (False, True):
        with pytest.raises(FileExistsError,
                           match=r'b_heatmaps.png: exists and is not an output of tools/infer'):
            output_stems(root, files, str(out), overwrite)
    (out / 'b_heatmaps.png').unlink()
    with pytest.raises(FileExistsError, match=r'a.png: exists; use --overwrite'):
        output_stems(root, files, str(out))
    stems = output_stems(root, files, str(out), overwrite=True)
    record_outputs(str(out), stems)
    listed = json.loads((out / RECORD).read_text())['files']
    assert listed == sorted(f'{s}{x}' for s in 'ab'
                            for x in ('.png', '_prediction.png', '_heatmaps.png'))


def test_a_folder_that_is_not_the_tools_is_refused_by_name(tmp_path):
    """No record but files: not the tool's folder, even without a clash."""
    images = tmp_path / 'imgs'
    images.mkdir()
    (images / 'a.jpg').write_bytes(b'x')
    root, files = list_images(str(images))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match=f'out: holds files .*notes.txt.* no {RECORD}'):
        output_stems(root, files, str(out), overwrite=True)
    (out / 'notes.txt').unlink()
    (out / '.DS_Store').write_bytes(b'')  # hidden files make no folder a user's
    assert output_stems(root, files, str(out)) == [str(out / 'a')]


def test_no_output_leads_out_of_the_output_folder(tmp_path):
    """A link inside --out to another folder: the mirrored sub-folder's
    outputs would land there."""
    images = tmp_path / 'imgs'
    (images / 'sub').mkdir(parents=True)
    (images / 'sub' / 'a.jpg').write_bytes(b'x')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    out = tmp_path / 'out'
    record_outputs(str(out), [])
    os.symlink(elsewhere, out / 'sub')
    root, files = list_images(str(images))
    with pytest.raises(ValueError, match=r'sub/a.png: leads out of --out'):
        output_stems(root, files, str(out), overwrite=True)
    assert not os.listdir(elsewhere)


def test_an_output_folder_given_as_input_is_refused_and_a_broken_record_named(tmp_path):
    out = tmp_path / 'out'
    record_outputs(str(out), [str(out / 'a')])
    (out / 'a.png').write_bytes(b'x')
    with pytest.raises(ValueError, match='out: is an output folder of tools/infer.py'):
        list_images(str(out))
    (out / RECORD).write_text('{"files": ["a.p')  # truncated
    images = tmp_path / 'imgs'
    images.mkdir()
    (images / 'a.jpg').write_bytes(b'x')
    root, files = list_images(str(images))
    with pytest.raises(ValueError, match=f'{RECORD}: is not a readable record .*Remove the '
                       'folder'):
        output_stems(root, files, str(out), overwrite=True)


def test_a_hidden_file_of_the_users_in_the_way_is_refused(tmp_path):
    """The input ``.notes.jpg`` would write ``out/.notes.png``, the user's:
    hidden files make no folder a user's, but one in the way is refused."""
    images = tmp_path / 'imgs'
    images.mkdir()
    (images / '.notes.jpg').write_bytes(b'x')
    root, files = list_images(str(images))
    out = tmp_path / 'out'
    out.mkdir()
    (out / '.notes.png').write_bytes(b'mine')
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=r'out: holds files .*\.notes\.png'):
            output_stems(root, files, str(out), overwrite=overwrite)
    assert (out / '.notes.png').read_bytes() == b'mine'
