"""CRFPool: the one DenseCRF pool (metric, pseudo masks, test_cfg.crf)."""
import os

import cv2
import numpy as np
import pytest

from apc_mmseg.postprocessing import CRFPool, crf_label_map, crf_probs, dense_crf, read_rgb


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
        probs = list(pool.map(crf_probs, [(j[0], j[1], cfg) for j in jobs]))
    for (image, p), label_map, q in zip(cases, maps, probs):
        want = dense_crf(image, p, **cfg)  # the reference, in this process
        np.testing.assert_array_equal(q, want)
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
        assert len(pool._pending) < 2 + 1
    got += pool.drain()
    pool.close()
    assert len(got) == 5 and not pool._pending


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
