"""Every image our code paths read (the dataset pipelines of training and
tools/test.py, the pseudo masks and their CRF workers, tools/infer.py) is
checked from its header before it is decoded: too many pixels, an empty file
or a file that is no image is an error naming the file and the problem
(issue 41 §3). Valid images decode to the same pixels as before."""
import os
import os.path as osp
import shutil
import struct
import zlib

import cv2
import mmcv
import numpy as np
import pytest
import torch
from helpers import DEMO_CONFIG, cfg_options_argv, load_tool, tiny_cfg_options
from mmengine.config import Config
from mmseg.registry import DATASETS
from PIL import Image

from apc_mmseg.apis import make_pseudo_masks
from apc_mmseg.datasets import WeakSegDataset, voc_palette
from apc_mmseg.postprocessing import CRFPool, crf_label_map, read_rgb
from apc_mmseg.utils.image_files import DEFAULT_MAX_PIXELS, check_image_file

META = dict(classes=('background', 'disc', 'square', 'triangle'))


def write_grey_png(path, width, height, rows=True):
    """A grey PNG of zeros, compressed row by row: 12,000 x 12,000 is ~150 KB
    on disk and never 144 MB in this process. ``rows=False``: the header and
    an empty data chunk (a file cut after its header)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))
    z = zlib.compressobj(9)
    idat = (b''.join(z.compress(bytes(width + 1)) for _ in range(height)) + z.flush()
            if rows else b'')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n'
                + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
                + chunk(b'IDAT', idat) + (chunk(b'IEND', b'') if rows else b''))
    return str(path)


@pytest.fixture(scope='module')
def huge_png(tmp_path_factory):
    """The issue's 12,000 x 12,000 PNG (144 MP, 16 GB at inference)."""
    return write_grey_png(tmp_path_factory.mktemp('huge') / 'huge.png', 12000, 12000)


@pytest.fixture
def root(demo_data, tmp_path):
    dst = str(tmp_path / 'data')
    shutil.copytree(demo_data, dst)
    return dst


@pytest.fixture(scope='module')
def demo_ckpt(tmp_path_factory):
    """The demo config's model, untrained: every refusal here comes before a
    prediction (loads as a trained one does, with its classes)."""
    from mmseg.registry import MODELS
    model = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(META, palette=voc_palette(4)))), path)
    return path


def jpg(root, img_id):
    return osp.join(root, 'JPEGImages', img_id + '.jpg')


def spy(monkeypatch, module, name):
    """Record the calls of ``module.name`` (a decoder) in the returned list."""
    calls, real = [], getattr(module, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, recorded)
    return calls


def train_set(root, **kw):
    return WeakSegDataset(data_root=root, metainfo=META, serialize_data=False,
                          ann_file='ImageSets/Segmentation/train.txt',
                          labels_file='cls_labels.json',
                          data_prefix=dict(img_path='JPEGImages'),
                          pipeline=[dict(type='LoadCheckedImageFromFile'),
                                    dict(type='LoadImageLevelLabels'),
                                    dict(type='PackWeakSegInputs')], **kw)


def config_test_set(root):
    """The test set as tools/test.py builds it (the config's test_dataloader)."""
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_cfg_options(root))
    return DATASETS.build(cfg.test_dataloader.dataset)


# -- the check itself ---------------------------------------------------------

def test_the_issues_144_mp_png_is_refused_from_its_header(huge_png):
    assert osp.getsize(huge_png) < 1_000_000  # small on disk: the header says 144 MP
    with pytest.raises(ValueError, match=r'huge.png: 12000 x 12000 pixels \(144.0 MP\) is '
                       r'over the limit of 50,000,000 pixels; raise it with --flag'):
        check_image_file(huge_png, option='--flag')
    assert DEFAULT_MAX_PIXELS == 50_000_000
    assert check_image_file(huge_png, max_pixels=None) == (12000, 12000)


def test_a_size_past_pillows_bomb_limit_is_read_and_pillow_is_left_as_it_was(tmp_path):
    # 15,000 x 12,000 = 180 MP: Pillow itself refuses to open it (> 179 MP);
    # its header still gives the size, for our limit or none.
    path = write_grey_png(tmp_path / 'big.png', 15000, 12000, rows=False)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ValueError, match=r'big.png: 15000 x 12000 pixels'):
        check_image_file(path)
    assert check_image_file(path, max_pixels=200_000_000) == (12000, 15000)
    assert Image.MAX_IMAGE_PIXELS == before


@pytest.mark.parametrize('content,problem', [
    (b'', r'empty file \(0 bytes\)'),
    (b'just some text, renamed to .jpg\n' * 10, r'not an image'),
])
def test_an_empty_file_or_no_image_is_named(tmp_path, content, problem):
    path = tmp_path / 'x.jpg'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf'x.jpg: {problem}'):
        check_image_file(str(path))


@pytest.mark.parametrize('name', ['x.hdr', 'x.png', 'x.jpg'])
def test_a_format_whose_size_is_unknown_before_decoding_needs_the_limit_lifted(tmp_path, name):
    """Radiance HDR (OpenCV decodes it by its content, whatever the file's
    suffix; Pillow reads no size from it): refused under a limit, read when
    the user lifts it."""
    hdr = str(tmp_path / 'made.hdr')
    assert cv2.imwrite(hdr, np.ones((6, 5, 3), np.float32))
    path = str(tmp_path / name)
    os.replace(hdr, path)
    with pytest.raises(ValueError, match=rf'{name}: an image format whose size cannot be read '
                                         r'before decoding.*lift the limit \(--max-pixels\)'):
        check_image_file(path, max_pixels=10 ** 9, option='--max-pixels')
    assert check_image_file(path, max_pixels=None) is None


# -- the dataset pipelines (training, tools/test.py, pseudo masks) -----------

def test_training_refuses_a_huge_image_before_decoding_it(root, huge_png, monkeypatch):
    shutil.copy(huge_png, jpg(root, 'train_00003'))  # a PNG by another name: cv2 reads it
    decoded = spy(monkeypatch, mmcv, 'imfrombytes')
    ds = train_set(root)
    with pytest.raises(ValueError, match=r'train_00003.jpg: 12000 x 12000 pixels .*raise it '
                       r"with the dataset's max_pixels"):
        ds[3]
    assert decoded == []  # refused from the header: nothing was decoded
    assert ds[2]['inputs'].shape[0] == 3 and len(decoded) == 1  # the others load


def test_the_datasets_max_pixels_raises_or_lifts_the_limit(root):
    w, h = Image.open(jpg(root, 'train_00001')).size
    with pytest.raises(ValueError, match=rf'train_00001.jpg: {w} x {h} pixels .* over the '
                       r'limit of 100 pixels'):
        train_set(root, max_pixels=100)[1]
    assert tuple(train_set(root, max_pixels=None)[1]['inputs'].shape[1:]) == (h, w)


@pytest.mark.parametrize('key', ['JPEGImages', 'SegmentationClass'])
def test_the_test_set_names_an_empty_image_or_mask(root, key):
    """The config's test set (tools/test.py's) names an empty image or mask
    file (mmcv's LoadImageFromFile alone: a bare cv2.error)."""
    ds = config_test_set(root)
    path = ds.get_data_info(0)['img_path' if key == 'JPEGImages' else 'seg_map_path']
    open(path, 'wb').close()
    with pytest.raises(ValueError, match=rf'{osp.basename(path)}: empty file \(0 bytes\)'):
        ds[0]


def test_tools_test_names_an_empty_image(root, demo_ckpt, tmp_path):
    ds = config_test_set(root)
    path = ds.get_data_info(0)['img_path']
    open(path, 'wb').close()
    test_tool = load_tool('tools/test.py')
    with pytest.raises(ValueError, match=rf'{osp.basename(path)}: empty file'):
        test_tool.main([DEMO_CONFIG, demo_ckpt, '--work-dir', str(tmp_path / 'work')]
                       + cfg_options_argv(tiny_cfg_options(root)))


def test_the_test_set_decodes_as_mmcvs_loader(root):
    """The check changes no pixel: the test pipeline's image is mmcv's
    ``LoadImageFromFile``'s (cv2, BGR) of the same file."""
    from mmcv.transforms import LoadImageFromFile
    ds = config_test_set(root)
    sample = ds[0]
    want = LoadImageFromFile()(dict(img_path=ds.get_data_info(0)['img_path']))['img']
    np.testing.assert_array_equal(sample['inputs'].permute(1, 2, 0).numpy(), want)


def pseudo_cfg(root):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_cfg_options(root))
    with open(osp.join(root, 'ImageSets/Segmentation/one.txt'), 'w') as f:
        f.write('train_00004\n')
    return cfg


def test_pseudo_masks_name_an_empty_image(root, demo_ckpt, tmp_path):
    cfg = pseudo_cfg(root)
    open(jpg(root, 'train_00004'), 'wb').close()
    with pytest.raises(ValueError, match=r'train_00004.jpg: empty file \(0 bytes\)'):
        make_pseudo_masks(cfg, demo_ckpt, str(tmp_path / 'masks'),
                          ann_file='ImageSets/Segmentation/one.txt', progress=False)


def test_pseudo_mask_tool_refuses_a_huge_image_and_max_pixels_raises_the_limit(
        root, demo_ckpt, tmp_path, monkeypatch):
    cfg_path = str(tmp_path / 'cfg.py')
    pseudo_cfg(root).dump(cfg_path)
    w, h = Image.open(jpg(root, 'train_00004')).size
    tool = load_tool('tools/make_pseudo_masks.py')
    argv = [cfg_path, demo_ckpt, '--out-dir', str(tmp_path / 'masks'), '--device', 'cpu',
            '--ann-file', 'ImageSets/Segmentation/one.txt']
    decoded = spy(monkeypatch, mmcv, 'imfrombytes')
    with pytest.raises(ValueError, match=rf'train_00004.jpg: {w} x {h} pixels .* over the '
                       r'limit of 1,000 pixels; .*--max-pixels'):
        tool.main(argv + ['--max-pixels', '1000'])
    assert decoded == []
    tool.main(argv + ['--max-pixels', str(w * h)])
    assert osp.isfile(tmp_path / 'masks' / 'train_00004.png')


# -- the CRF workers -----------------------------------------------------------

@pytest.mark.parametrize('workers', [0, 2])
def test_crf_jobs_name_an_empty_or_corrupt_image(tmp_path, workers):
    probs = np.full((2, 4, 5), 0.5, np.float32)
    empty, text = tmp_path / 'empty.png', tmp_path / 'text.png'
    empty.write_bytes(b'')
    text.write_bytes(b'not a picture\n' * 8)
    for path, problem in ((empty, 'empty file'), (text, 'not an image')):
        with pytest.raises(ValueError, match=rf'{path.name}: {problem}'):
            with CRFPool(workers) as pool:  # workers: raised in a worker process
                list(pool.map(crf_label_map, [(str(path), probs, [0, 1], {})]))


def test_crf_jobs_read_the_pixels_they_read_before(root):
    path = jpg(root, 'train_00000')
    want = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(read_rgb(path), want)


# -- tools/infer.py --------------------------------------------------------------

@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


def test_infer_tool_names_a_corrupt_image(infer_tool, demo_ckpt, tmp_path):
    """The issue's case: mmcv.imread's bare ``cv2.error ... cvtColor``."""
    images = tmp_path / 'images'
    images.mkdir()
    (images / 'a.jpg').write_bytes(b'\xff\xd8\xff\xe0 a JPEG that stops at once')
    with pytest.raises(ValueError, match=r'a.jpg: (not an image|corrupt image)'):
        infer_tool.main([DEMO_CONFIG, demo_ckpt, str(images), '--out', str(tmp_path / 'out'),
                         '--device', 'cpu'])


@pytest.mark.parametrize('case,problem', [
    ('empty', r'empty file \(0 bytes\)'),
    ('text', 'not an image'),
    ('cut after its header', 'corrupt image, cannot be decoded'),
    ('huge', r'12000 x 12000 pixels \(144.0 MP\) is over the limit of 50,000,000 pixels; '
             'raise it with --max-pixels'),
])
def test_infer_names_the_image_and_its_problem_before_the_model_sees_it(
        infer_tool, tmp_path, huge_png, monkeypatch, case, problem):
    path = tmp_path / 'a.png'
    if case == 'empty':
        path.write_bytes(b'')
    elif case == 'text':
        path.write_text('hello')
    elif case == 'cut after its header':
        write_grey_png(path, 20, 10, rows=False)
    else:
        shutil.copy(huge_png, path)
    decoded = spy(monkeypatch, mmcv, 'imread')
    with pytest.raises(ValueError, match=rf'a.png: {problem}'):
        infer_tool.write_outputs(None, str(path), str(tmp_path / 'out' / 'a'), META['classes'],
                                 voc_palette(4))  # no model: it is not reached
    assert len(decoded) == (1 if case == 'cut after its header' else 0)
    assert not (tmp_path / 'out').exists()


class _Stop(Exception):
    pass


def test_infer_reads_the_pixels_it_read_before(infer_tool, root, monkeypatch, tmp_path):
    """The picture's image is mmcv.imread's RGB of the file, as before."""
    path = jpg(root, 'train_00000')
    read = []
    real = infer_tool.read_checked_image
    monkeypatch.setattr(infer_tool, 'read_checked_image',
                        lambda *a, **k: read.append(real(*a, **k)) or read[-1])

    def stop(*args):
        raise _Stop
    monkeypatch.setattr(infer_tool, 'inference_model', stop)
    with pytest.raises(_Stop):
        infer_tool.write_outputs(None, path, str(tmp_path / 'a'), META['classes'],
                                 voc_palette(4))
    np.testing.assert_array_equal(read[0], mmcv.imread(path, channel_order='rgb'))
