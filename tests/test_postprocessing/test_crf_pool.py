"""CRFPool: the one DenseCRF pool (metric, pseudo masks, infer.py --crf)."""
import os

import cv2
import numpy as np
import pytest
import torch
from mmseg.evaluation.metrics import IoUMetric

from apc_mmseg.postprocessing import CRFPool, crf_label_map, dense_crf, read_rgb
from apc_mmseg.postprocessing.crf_jobs import area_counts


def case(seed, h=40, w=60):
    """Left half dark, right half bright; noisy scores of classes 0 and 2."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, w // 2:] = 220
    p2 = np.clip(np.where(np.arange(w) >= w // 2, 0.6, 0.4) + rng.normal(0, 0.25, (h, w)),
                 0.01, 0.99).astype(np.float32)
    return image, np.stack([1 - p2, p2])  # the present classes' probabilities only


@pytest.mark.parametrize('workers', [1, 2])
def test_results_come_in_order_and_match_dense_crf(workers, tmp_path):
    cases = [case(seed) for seed in range(6)]
    cfg = dict(iterations=3)
    paths = []
    for i, (image, _) in enumerate(cases):  # half the jobs send a path, read in the worker
        paths.append(str(tmp_path / f'{i}.png'))
        cv2.imwrite(paths[-1], image[..., ::-1])
    jobs = [(paths[i] if i % 2 else image, probs, [0, 2], cfg)
            for i, (image, probs) in enumerate(cases)]
    with CRFPool(workers, in_flight=1) as pool:
        maps = list(pool.map(crf_label_map, jobs))
    for (image, p), label_map in zip(cases, maps):
        want = dense_crf(image, p, **cfg)  # the reference, in this process
        np.testing.assert_array_equal(label_map, np.array([0, 2])[want.argmax(0)])
        assert label_map.dtype == np.uint8  # what comes back: a map, not K x H x W floats
    wide = crf_label_map(*cases[0], [0, 300], cfg)  # class ids past uint8 keep their value
    assert set(np.unique(wide)) == {0, 300}


def test_submit_holds_at_most_the_limit_and_drain_returns_the_rest():
    image, probs = case(0)
    pool = CRFPool(2, in_flight=1)  # at most 2 jobs not yet collected
    got = []
    for _ in range(5):
        got += pool.submit(crf_label_map, image, probs, [0, 2], dict(iterations=1))
        assert pool.pending < 2 + 1
    got += pool.drain()
    pool.close()
    assert len(got) == 5 and not pool.pending


def test_a_failing_job_raises_in_the_caller_naming_the_file(tmp_path):
    image, probs = case(0)
    bad = str(tmp_path / 'missing.png')
    with pytest.raises(FileNotFoundError, match='missing.png'):  # raised in the worker
        with CRFPool(2) as pool:
            list(pool.map(crf_label_map, [(bad, probs, [0, 2], {})]))
    small = str(tmp_path / 'small.png')
    cv2.imwrite(small, np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="small.png: its size 10x10 is not the prediction's 40x60"):
        read_rgb(small, probs.shape[1:])
    assert os.path.isfile(small)


def test_area_counts_are_mmsegs_intersect_and_union():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 6, (30, 40)).astype(np.uint8)  # 5: outside the 5 classes
    label = rng.integers(0, 6, (30, 40))
    label[rng.random((30, 40)) < 0.2] = 255
    label[0, :3] = -1  # ids outside the classes are not counted
    want = IoUMetric.intersect_and_union(torch.from_numpy(pred.astype(np.int64)),
                                         torch.from_numpy(label), 5, 255)
    got = area_counts(pred, label, 5, 255)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w.numpy())
    assert got[0].sum() > 0 and got[1].sum() > got[0].sum()


def test_workers_load_neither_torch_nor_the_package(tmp_path):
    image, probs = case(0)
    with CRFPool(2) as pool:
        list(pool.map(crf_label_map, [(image, probs, [0, 2], dict(iterations=1))] * 2))
        for proc in pool._procs:  # the libraries each worker has mapped
            with open(f'/proc/{proc.pid}/maps') as maps:
                libs = maps.read()
            assert 'pydensecrf' in libs and 'libtorch' not in libs
            with open(f'/proc/{proc.pid}/environ', 'rb') as env:
                assert b'OMP_NUM_THREADS=1\0' in env.read()
    with pytest.raises(ValueError, match='runs the functions of apc_mmseg.postprocessing.crf_jobs'):
        CRFPool(2).submit(np.zeros, 3)


def test_a_worker_that_dies_fails_its_job_in_the_caller():
    image, probs = case(0)
    with pytest.raises(RuntimeError, match=r'CRF worker \d+ stopped'):
        with CRFPool(2, in_flight=1) as pool:
            pool.submit(crf_label_map, image, probs, [0, 2], dict(iterations=1))
            for proc in pool._procs:
                proc.kill()
            for _ in range(4):
                pool.submit(crf_label_map, image, probs, [0, 2], dict(iterations=1))
            pool.drain()
