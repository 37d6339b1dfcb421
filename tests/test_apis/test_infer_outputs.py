"""tools/infer.py's output names: one set per input, sub-folders mirrored, an
input never written over, an earlier run's outputs only when asked."""
import pytest

from apc_mmseg.apis.infer_outputs import list_images, output_stems, record_outputs


@pytest.fixture
def images(tmp_path):
    root = tmp_path / 'imgs'
    (root / 'sub').mkdir(parents=True)
    for name in ('a.jpg', 'a.png', 'b.jpg', 'sub/a.jpg', 'notes.txt'):
        (root / name).write_bytes(b'x')
    return root


def test_each_input_gets_its_own_outputs_and_sub_folders_are_mirrored(images, tmp_path):
    root, files = list_images(str(images))
    assert [f[len(str(images)) + 1:] for f in files] == ['a.jpg', 'a.png', 'b.jpg', 'sub/a.jpg']
    stems = output_stems(root, files, str(tmp_path / 'out'))
    assert [s[len(str(tmp_path / 'out')) + 1:] for s in stems] == \
        ['a_jpg', 'a_png', 'b', 'sub/a']


def test_an_input_is_never_written_over(tmp_path):
    """--out equal to the input folder: a.png's label map would be a.png."""
    (tmp_path / 'a.png').write_bytes(b'x')
    (tmp_path / 'b.jpg').write_bytes(b'x')
    root, files = list_images(str(tmp_path))
    with pytest.raises(ValueError, match='a.png: is an input image'):
        output_stems(root, files, str(tmp_path))
    assert (tmp_path / 'a.png').read_bytes() == b'x'


def test_an_earlier_runs_outputs_are_replaced_only_when_asked(images, tmp_path):
    root, files = list_images(str(images / 'sub'))
    out = tmp_path / 'out'
    record_outputs(str(out), [str(out / 'a')])  # an earlier run's record
    (out / 'a_prediction.png').write_bytes(b'old')
    with pytest.raises(FileExistsError, match='a_prediction.png: exists; use --overwrite'):
        output_stems(root, files, str(out))
    assert output_stems(root, files, str(out), overwrite=True) == [str(out / 'a')]
