"""Issue 41 §2: a tool writes only into a folder it made or that holds its own
record, and never follows a path out of it. The benchmark's synthetic loader
data goes into a folder of its own, whatever paths the config names; the set
generators (make_demo_data.py, demo.py --data) refuse a folder of the user's,
and still remake a folder they generated before, byte for byte."""
import hashlib
import json
import os

import pytest
from helpers import DEMO_CONFIG, load_tool

from apc_lab import demo_data


def user_voc_folder(root):
    """A user's VOC-layout folder (no generation record): split lists, tags, images."""
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    for split in ('train', 'val'):
        (root / 'ImageSets' / 'Segmentation' / f'{split}.txt').write_text('000005\n')
    (root / 'cls_labels.json').write_text('{"000005": ["disc"]}')
    (root / 'JPEGImages' / '000005.jpg').write_bytes(b'the user\'s photo')
    return root


def snapshot(root) -> dict:
    """Every file under ``root`` (relative path -> SHA-256)."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_the_benchmark_leaves_the_configs_data_alone(tmp_path, monkeypatch):
    """Absolute ann_file, labels_file and img_path used to be where the
    loader measurement wrote its 64 JPEGs, split list and tags."""
    user = user_voc_folder(tmp_path / 'user')
    config = tmp_path / 'user_config.py'
    config.write_text(
        f'_base_ = [{DEMO_CONFIG!r}]\n'
        f'train_dataloader = dict(dataset=dict(data_root={str(user)!r}, '
        f'ann_file={str(user / "ImageSets/Segmentation/train.txt")!r}, '
        f'labels_file={str(user / "cls_labels.json")!r}, '
        f'data_prefix=dict(img_path={str(user / "JPEGImages")!r})))\n')
    before = snapshot(user)
    monkeypatch.setenv('APC_MMSEG_TUNE_MALLOC', '0')  # leave this process's malloc as it is
    out = tmp_path / 'bench.json'
    load_tool('tools/analysis_tools/benchmark.py').main(
        [str(config), '--device', 'cpu', '--skip', 'train', 'infer', 'heads', 'crf',
         'crf_eval', '--loader-workers', '0', '--loader-batches', '1', '--out', str(out)])
    assert snapshot(user) == before
    assert json.loads(out.read_text())['rates']['loader_images_per_s'] > 0


def test_make_demo_data_refuses_a_users_folder(tmp_path):
    user = user_voc_folder(tmp_path / 'user')
    before = snapshot(user)
    with pytest.raises(SystemExit) as stop:
        load_tool('tools/dataset_converters/make_demo_data.py').main(
            ['--out', str(user), '--num-train', '2', '--num-val', '1', '--num-test', '0'])
    message = str(stop.value)
    assert str(user) in message and 'ImageSets' in message and 'cls_labels.json' in message
    assert snapshot(user) == before


def test_demo_refuses_a_users_data_folder_before_training(tmp_path, monkeypatch):
    user = user_voc_folder(tmp_path / 'user')
    before = snapshot(user)
    tool = load_tool('tools/demo.py')

    def run_demo(config, data, work_dir, **kwargs):
        # the real run's first step (the training after it is not the point here)
        demo_data.ensure_generated(data, 2, 1, seed=0, dataset='demo', num_test=0)
        raise AssertionError(f'the demo went on with the data folder {data}')

    monkeypatch.setattr(tool, 'run_demo', run_demo)
    with pytest.raises(SystemExit) as stop:
        tool.main(['--dataset', 'demo', '--data', str(user), '--work-dir', str(tmp_path / 'w')])
    assert str(user) in str(stop.value) and 'cls_labels.json' in str(stop.value)
    assert snapshot(user) == before


def test_a_link_out_of_a_generated_folder_is_not_followed(tmp_path):
    out, elsewhere = tmp_path / 'set', tmp_path / 'elsewhere'
    demo_data.generate(str(out), 2, 1, seed=0, num_test=0)
    elsewhere.mkdir()
    (elsewhere / 'train_00000.jpg').write_bytes(b'the user\'s photo')
    os.rename(out / 'JPEGImages', tmp_path / 'old_images')
    os.symlink(elsewhere, out / 'JPEGImages')
    with pytest.raises(demo_data.NotGeneratedFolderError, match='leads out of'):
        demo_data.generate(str(out), 2, 1, seed=1, num_test=0)
    assert snapshot(elsewhere) == {'train_00000.jpg': hashlib.sha256(
        b'the user\'s photo').hexdigest()}


def test_a_folder_generated_before_is_remade_as_a_fresh_one(tmp_path, monkeypatch):
    """Remade over another set, or after a generation killed half-way (its
    marker left, no record): the same files as a fresh folder's."""
    fresh = demo_data.generate(str(tmp_path / 'fresh'), 3, 1, seed=0, num_test=1)
    (tmp_path / 'empty').mkdir()  # an empty folder is as good as none
    remade = demo_data.generate(str(tmp_path / 'empty'), 3, 1, seed=1, num_test=1)
    demo_data.generate(remade, 3, 1, seed=0, num_test=1)
    assert snapshot(remade) == snapshot(fresh)

    killed = str(tmp_path / 'killed')
    names, make = demo_data.GENERATED_SETS['demo']
    calls = []

    def dies_on_the_third(rng):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return make(rng)

    monkeypatch.setitem(demo_data.GENERATED_SETS, 'demo', (names, dies_on_the_third))
    with pytest.raises(KeyboardInterrupt):
        demo_data.generate(killed, 3, 1, seed=0, num_test=1)
    assert sorted(os.listdir(killed)) == [demo_data.UNFINISHED, 'ImageSets', 'JPEGImages',
                                          'SegmentationClass']
    monkeypatch.setitem(demo_data.GENERATED_SETS, 'demo', (names, make))
    demo_data.generate(killed, 3, 1, seed=0, num_test=1)
    assert snapshot(killed) == snapshot(fresh)
