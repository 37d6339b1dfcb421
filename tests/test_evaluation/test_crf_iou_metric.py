import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
import torch
from helpers import DEMO_CONFIG, cfg_options_argv, free_port, run, tool_env
from mmseg.evaluation import IoUMetric

from apc_mmseg.evaluation import CRFIoUMetric, IoUAccumulator, crf_workers
from apc_mmseg.evaluation.crf_iou_metric import present_probs
from apc_mmseg.postprocessing import dense_crf

CLASSES = ('background', 'a', 'b')


def noisy_images(tmp_path, n=3, h=30, w=40):
    """Images dark on the left, bright on the right (class 2 there), and
    probabilities that are noisy around 0.5: samples as a metric gets them."""
    samples = []
    for i in range(n):
        rng = np.random.default_rng(i)
        image = np.zeros((h, w, 3), np.uint8)
        image[:, w // 2:] = 220
        path = str(tmp_path / f'{i}.png')
        cv2.imwrite(path, image)
        truth = np.zeros((h, w), np.int64)
        truth[:, w // 2:] = 2
        truth[0, 0] = 255
        p2 = np.clip(np.where(truth == 2, 0.6, 0.4) + rng.normal(0, 0.25, (h, w)), 0.01, 0.99)
        probs = np.zeros((3, h, w), np.float32)
        probs[0], probs[2] = 1 - p2, p2
        log_probs = torch.from_numpy(np.log(np.maximum(probs, 1e-30)))  # as APC's models give
        samples.append(dict(img_path=path, seg_logits=dict(data=log_probs),
                            pred_sem_seg=dict(data=torch.from_numpy(probs.argmax(0))[None]),
                            gt_sem_seg=dict(data=torch.from_numpy(truth)[None])))
    return samples


def miou_of(metric, samples):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    return metric.evaluate(len(samples))['mIoU']


@pytest.mark.parametrize('workers', [1, 2])
def test_crf_miou_against_the_crf_of_each_image(tmp_path, workers):
    samples = noisy_images(tmp_path)
    reference = IoUAccumulator(3)
    for s in samples:
        image = cv2.imread(s['img_path'])[..., ::-1].copy()
        refined = dense_crf(image, s['seg_logits']['data'].softmax(0).numpy(), classes=[0, 2])
        reference.add(refined.argmax(0), s['gt_sem_seg']['data'][0])
    got = miou_of(CRFIoUMetric(workers=workers), samples)
    assert got == pytest.approx(round(reference.miou(), 2), abs=1e-6)
    plain = miou_of(IoUMetric(), samples)
    assert plain < 75 < got  # the CRF cleans the noise along the image's edge


def test_auto_workers_share_the_cores_between_local_ranks(monkeypatch):
    import os
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '1')
    assert crf_workers('auto') == cores
    monkeypatch.setenv('LOCAL_WORLD_SIZE', str(cores * 2))
    assert crf_workers('auto') == 1
    assert crf_workers(3) == 3


def test_an_image_of_another_size_is_named(tmp_path):
    samples = noisy_images(tmp_path, n=1)
    cv2.imwrite(samples[0]['img_path'], np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r'0\.png: .*size'):
        miou_of(CRFIoUMetric(workers=1), samples)


@pytest.fixture(scope='module')
def crf_reference(trained, demo_data):
    """The demo checkpoint's val mIoU with DenseCRF on its decode probabilities,
    image by image in this process."""
    from helpers import tiny_cfg_options
    from mmengine.config import Config
    from mmseg.apis import init_model

    from apc_mmseg.apis import decode_probs
    _, ckpt, _ = trained
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_cfg_options(demo_data))
    model = init_model(cfg, ckpt, device='cpu')
    acc = IoUAccumulator(4)
    for name in open(osp.join(demo_data, 'ImageSets/Segmentation/val.txt')).read().split():
        image = cv2.imread(osp.join(demo_data, 'JPEGImages', name + '.jpg'))[..., ::-1].copy()
        probs = decode_probs(model, osp.join(demo_data, 'JPEGImages', name + '.jpg'))
        keep = probs.argmax(0).unique().tolist()
        refined = dense_crf(image, probs.numpy(), classes=keep)
        mask = cv2.imread(osp.join(demo_data, 'SegmentationClass', name + '.png'), 0)
        acc.add(refined.argmax(0), mask)
    return acc.miou()


@pytest.mark.parametrize('ranks', ['1', '2'])
def test_dist_test_with_the_crf_metric(trained, crf_reference, tmp_path, ranks):
    """The paper's protocol recipe (CRF in the evaluator, 2 workers a rank)
    gives the in-process CRF figure on 1 and 2 ranks."""
    _, ckpt, options = trained
    options = dict(options, **{'test_evaluator.type': 'CRFIoUMetric',
                               'test_evaluator.workers': 2})
    env = tool_env()
    env.update(PORT=str(free_port()), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    log = run(['bash', 'tools/dist_test.sh', DEMO_CONFIG, ckpt, ranks, '--work-dir',
               str(tmp_path)] + cfg_options_argv(options), env)
    miou = float(re.search(r'mIoU: (\d+\.\d+)', log).group(1))
    assert miou == pytest.approx(crf_reference, abs=0.006)


def test_a_crf_option_typo_is_refused_when_the_metric_is_built():
    with pytest.raises(ValueError, match=r"CRFIoUMetric crf: unknown DenseCRF option\(s\) "
                                         r"\['bilateral_rgb'\]"):
        CRFIoUMetric(crf=dict(bilateral_rgb=3))


def test_present_probs_is_the_softmax_of_the_winning_classes(device):
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (6, 20, 30)).astype(np.float32)
    logits[[1, 4]] -= 50  # classes 1 and 4 win no pixel
    given = torch.from_numpy(logits).to(device, torch.bfloat16)  # as under autocast
    probs, keep = present_probs(given)
    logits = given.float().cpu().numpy()
    want = torch.from_numpy(logits).double().softmax(0).numpy()  # float64, by torch
    assert keep.tolist() == [0, 2, 3, 5]
    np.testing.assert_allclose(probs, want[[0, 2, 3, 5]], rtol=1e-5, atol=1e-7)
