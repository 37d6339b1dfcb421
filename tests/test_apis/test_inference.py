"""DenseCRF refines a prediction outside the model: ``crf_job`` and
``tools/infer.py --crf``."""
import os.path as osp

import numpy as np
import torch
from helpers import call_tool, cfg_options_argv
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from apc_mmseg.apis import crf_job
from apc_mmseg.postprocessing import CRF_DEFAULTS


def test_crf_job_takes_the_winning_classes_softmax():
    """Classes 0 and 2 win pixels, 1 and 3 never: the job carries their
    softmax rows (float64 by hand) and ViT-PCM's settings with the override."""
    logits = torch.tensor([[[3.0, 0.0]], [[1.0, 0.5]], [[0.0, 2.0]], [[-1.0, -1.0]]])
    result = SegDataSample()
    result.seg_logits = PixelData(data=logits)
    image, probs, classes, cfg = crf_job(result, 'img.jpg', dict(iterations=3))
    x = logits.double().numpy()
    want = np.exp(x) / np.exp(x).sum(0, keepdims=True)
    assert image == 'img.jpg' and classes == [0, 2]
    np.testing.assert_allclose(probs, want[[0, 2]], rtol=1e-6)
    assert cfg == dict(CRF_DEFAULTS, iterations=3)


def test_infer_with_crf_writes_maps_of_the_predicted_classes(trained, demo_data, tmp_path):
    _, ckpt, options = trained
    img = osp.join(demo_data, 'JPEGImages', 'val_00016.jpg')
    out = tmp_path / 'out'
    call_tool('tools/infer.py', ['configs/apc/apc_demo_cpu.py', ckpt, img, '--out', out, '--crf',
                                 '--crf-workers', '2'] + cfg_options_argv(options))
    for suffix in ('.png', '_prediction.png', '_heatmaps.png'):
        assert (out / f'val_00016{suffix}').is_file()
