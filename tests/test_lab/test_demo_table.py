"""The demo table's foreground shares and pixel agreement (apc_lab/demo.py),
against values worked out by hand, and the table's format."""
import json

import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric
from PIL import Image

from apc_lab import demo
from apc_lab.demo import (
    ForegroundShareCRFIoUMetric,
    ForegroundShareIoUMetric,
    area_foreground_share,
    baselines,
    demo_table,
    foreground_share,
    pixel_agreement,
    read_masks,
    run_demo_seeds,
)
from apc_mmseg.evaluation import CRFIoUMetric, IoUAccumulator
from apc_mmseg.postprocessing import dense_crf

# Two images, one pixel of each not evaluated (255): 5 + 1 = 6 evaluated pixels.
LABELS = [np.array([[0, 1, 255],
                    [2, 0, 1]]),
          np.array([[0, 255]])]
PREDS = [np.array([[1, 1, 2],
                   [0, 0, 3]]),
         np.array([[2, 0]])]
OTHERS = [np.array([[1, 0, 2],
                    [2, 0, 1]]),
          np.array([[2, 1]])]


def test_foreground_share_counts_the_evaluated_pixels_of_the_whole_split():
    # PREDS give a foreground class to (0,0), (0,1), (1,2) of the first image
    # and (0,0) of the second: 4 of 6 (the ignored (0,2) is 2, not counted)
    assert foreground_share(PREDS, LABELS) == pytest.approx(100 * 4 / 6)
    # the ground truth: 1, 2, 1 in the first image, none in the second: 3 of 6
    assert foreground_share(LABELS, LABELS) == pytest.approx(50.0)
    # pixel-weighted over the split, not a mean of the images' shares (3/5 and 0/1)
    assert foreground_share(LABELS, LABELS) != pytest.approx(100 * (3 / 5 + 0) / 2)
    assert foreground_share([np.zeros((2, 3), int)], LABELS[:1]) == 0.0
    assert foreground_share([np.ones((1, 1), int)], [np.full((1, 1), 255)]) is None


def test_pixel_agreement_counts_the_evaluated_pixels_both_give_one_class():
    # first image: (0,0) 1=1, (1,1) 0=0 agree; (0,1), (1,0), (1,2) differ; the
    # ignored (0,2) agrees (2=2) but is not counted. Second: (0,0) 2=2 agrees,
    # the ignored (0,1) differs, not counted. 3 of 6.
    assert pixel_agreement(PREDS, OTHERS, LABELS) == pytest.approx(50.0)
    assert pixel_agreement(PREDS, PREDS, LABELS) == 100.0
    assert pixel_agreement(PREDS[:1], OTHERS[:1], [np.full((2, 3), 255)]) is None


def test_the_share_of_per_class_areas_is_the_share_of_the_label_maps():
    # mmseg's predicted areas (ignored pixels not counted), summed over the images
    areas = sum(IoUMetric.intersect_and_union(torch.from_numpy(p), torch.from_numpy(g), 4,
                                              255)[2] for p, g in zip(PREDS, LABELS))
    assert areas.tolist() == [2, 2, 1, 1]
    assert area_foreground_share(areas) == pytest.approx(foreground_share(PREDS, LABELS))
    assert area_foreground_share([3, 2, 1, 0]) == pytest.approx(50.0)
    assert area_foreground_share([0, 0]) is None


def samples_of(preds, labels, tmp_path, num_classes=4):
    """Samples as the test's metrics get them: log-probabilities whose argmax
    is ``preds``, the image's path (grey: the CRF follows the scores)."""
    samples = []
    for i, (pred, label) in enumerate(zip(preds, labels)):
        probs = np.full((num_classes, ) + pred.shape, 0.1 / (num_classes - 1), np.float32)
        np.put_along_axis(probs, pred[None], 0.9, axis=0)
        path = tmp_path / f'{i}.png'
        Image.fromarray(np.full(pred.shape + (3, ), 128, np.uint8)).save(path)
        samples.append(dict(img_path=str(path),
                            seg_logits=dict(data=torch.from_numpy(np.log(probs))),
                            pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                            gt_sem_seg=dict(data=torch.from_numpy(label)[None])))
    return samples


def evaluate(metric, samples, classes=('background', 'a', 'b', 'c')):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_the_metrics_add_the_share_and_keep_mmsegs_figures(tmp_path):
    samples = samples_of(PREDS, LABELS, tmp_path)
    plain = evaluate(IoUMetric(iou_metrics=['mIoU']), samples)
    got = evaluate(ForegroundShareIoUMetric(iou_metrics=['mIoU']), samples)
    assert got.pop('fg_share') == pytest.approx(100 * 4 / 6)
    assert got == plain  # mIoU (and aAcc, mAcc) untouched
    crf = evaluate(ForegroundShareCRFIoUMetric(iou_metrics=['mIoU'], workers=1, prefix='crf'),
                   samples)
    crf_plain = evaluate(CRFIoUMetric(iou_metrics=['mIoU'], workers=1, prefix='crf'), samples)
    refined = [dense_crf(np.full(p.shape + (3, ), 128, np.uint8),
                         s['seg_logits']['data'].softmax(0).numpy(),
                         classes=sorted(set(p.ravel().tolist()))).argmax(0)
               for p, s in zip(PREDS, samples)]
    assert crf.pop('crf/fg_share') == pytest.approx(foreground_share(refined, LABELS))
    assert crf == crf_plain


class FakeSet:
    """What ``baselines`` and ``read_masks`` read of a split: each image's
    ground-truth file, id and foreground tags."""

    def __init__(self, tmp_path, labels, tags):
        self.infos = []
        for i, (label, image_labels) in enumerate(zip(labels, tags)):
            path = tmp_path / f'gt_{i}.png'
            Image.fromarray(label.astype(np.uint8)).save(path)
            self.infos.append(dict(seg_map_path=str(path), img_id=f'img_{i}',
                                   image_labels=image_labels))

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return self.infos[i]


def test_baselines_shares_by_hand_and_their_miou_as_before(tmp_path):
    dataset = FakeSet(tmp_path, LABELS, [[2, 1], []])
    (bg_miou, bg_share), (first_miou, first_share) = baselines(dataset, 4)
    assert bg_share == 0.0  # by construction
    # 'first labelled class': the first image all 2 (5 evaluated pixels), the
    # second (no tag) all background: 5 of 6
    assert first_share == pytest.approx(100 * 5 / 6)
    bg, first = IoUAccumulator(4), IoUAccumulator(4)
    for label, fill in zip(LABELS, (2, 0)):
        bg.add(np.zeros_like(label), label)
        first.add(np.full_like(label, fill), label)
    assert (bg_miou, first_miou) == (bg.miou(), first.miou())


def test_read_masks_gives_the_folders_pngs_in_the_splits_order(tmp_path):
    dataset = FakeSet(tmp_path, LABELS, [[1], [1]])
    masks = tmp_path / 'pseudo_masks'
    masks.mkdir()
    for i, pred in enumerate(PREDS):
        Image.fromarray(pred.astype(np.uint8)).save(masks / f'img_{i}.png')
    read = list(read_masks(str(masks), dataset))
    assert [m.tolist() for m in read] == [p.tolist() for p in PREDS]
    assert foreground_share(read_masks(str(masks), dataset), LABELS) == pytest.approx(
        100 * 4 / 6)


ROWS = [('decode head (no labels)', 55.25, 26.04),
        ('decode head + CRF (no labels)', 57.0, 24.0),
        ('baseline: all background', 13.3, 0.0)]


def one_seed(agreement=98.04, shares=True):
    return dict(rows=[dict(what=w, test=m, **(dict(fg_share=f) if shares else {}))
                      for w, m, f in ROWS],
                gt_fg_share=26.8, decode_pseudo_agreement=agreement, split='test')


def test_the_table_gives_miou_and_foreground_share_side_by_side():
    assert demo_table(one_seed(), 'APC photo, pretrained', [0], 'test') == '\n'.join([
        'APC photo, pretrained (%; seed 0)            test mIoU   fg share',
        'decode head (no labels)                           55.2       26.0',
        'decode head + CRF (no labels)                     57.0       24.0',
        'baseline: all background                          13.3        0.0',
        'ground truth (reference)                             -       26.8',
        '',
        'agreement, decode head (no labels) vs patch scores + image labels: 98.0',
        "fg share: % of the test split's evaluated pixels (label != 255) given any "
        'non-background class;',
        'agreement: % of them given the same class by both'])


def test_a_summary_without_shares_reads_dashes():
    lines = demo_table(one_seed(agreement=None, shares=False), 'T', [0], 'test').split('\n')
    assert lines[1].split()[-2:] == ['55.2', '-']
    assert lines[6].endswith('image labels: -')


def test_several_seeds_give_each_figure_as_mean_sd_and_values(tmp_path, monkeypatch):
    seeds = {0: one_seed(98.0), 1: one_seed(96.0)}
    seeds[1]['rows'][0].update(test=53.25, fg_share=30.0)

    def fake_run_demo(config, data, work_dir, seed, **kwargs):
        return seeds[seed]

    monkeypatch.setattr(demo, 'run_demo', fake_run_demo)
    summary = run_demo_seeds('config.py', [0, 1], 'data', str(tmp_path))
    decode = summary['rows'][0]
    assert decode['test']['values'] == [55.25, 53.25]  # the mIoU as the runs gave it
    # two values: the sample sd is their distance over sqrt(2)
    assert decode['fg_share'] == dict(mean=pytest.approx(28.02),
                                      std=pytest.approx(3.96 / 2 ** 0.5), values=[26.04, 30.0])
    assert summary['decode_pseudo_agreement'] == dict(mean=97.0, std=pytest.approx(2 ** 0.5),
                                                      values=[98.0, 96.0])
    assert summary['gt_fg_share'] == dict(mean=26.8, std=0.0, values=[26.8, 26.8])
    assert json.load(open(tmp_path / 'seeds_summary.json'))['rows'][0]['fg_share']['values'] \
        == [26.04, 30.0]
    lines = demo_table(summary, 'T', [0, 1], 'test').split('\n')
    assert lines[0].split()[-4:] == ['test', 'mIoU', 'fg', 'share']
    width = 8 + 5 * 2 + 8  # a column of two seeds' cells
    assert lines[1] == (f"{'decode head (no labels)':43s} {'54.2 ± 1.4 (55.2 53.2)':>{width}s} "
                        f"{'28.0 ± 2.8 (26.0 30.0)':>{width}s}")
    assert lines[4].endswith('26.8 ± 0.0 (26.8 26.8)')
    assert lines[6].endswith('image labels: 97.0 ± 1.4 (98.0 96.0)')
