"""The README's main job: train APC from image tags on the demo data, on CPU.

1. generates the data set (``apc_lab.demo_data``) unless it holds exactly
   the requested one;
2. fine-tunes the config from image-level labels only (validating on val,
   the split defaults were chosen on), at ``FIGURE_THREADS`` torch threads
   (``apc_lab.numerics``); ``from_scratch=True``: random weights, no frozen
   warm-up;
3. evaluates on the **test** split (``eval_split``; drawn from a seed no
   choice was made on): the decode head (no labels), and the pseudo masks of
   the patch scores with the images' true tags (the model never trained on
   these images), with and without DenseCRF, next to two baselines (all
   background; every pixel of an image given its first tagged class). Each
   row has its mIoU and its foreground share (``foreground_share``: the % of
   the split's evaluated pixels it gives any non-background class; the
   ground truth's share is the reference), and the run reports how often the
   decode head and the pseudo masks (no CRF) give a pixel the same class
   (``pixel_agreement``): where they agree on nearly every pixel, the two
   rows are one result;
4. draws per-class heat maps of the patch scores and prediction overlays into
   ``<work-dir>/vis/``; writes ``<work-dir>/summary.json`` (with per-class
   IoU and the numerics record).

``run_demo_seeds`` repeats it for several seeds (``<work-dir>/seed_<s>/``) and
reports each figure's mean, standard deviation and per-seed values: on this
toy set a class can collapse onto "the background of my images", so one run's
number says little. Command line: ``tools/demo.py`` (``make demo``), which
prints the table.
"""
import json
import os
import os.path as osp
import time

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmseg.apis import init_model
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS, RUNNERS
from PIL import Image

from apc_mmseg.apis.inference import decode_probs, patch_scores
from apc_mmseg.apis.pseudo_masks import build_label_dataset, make_pseudo_masks
from apc_mmseg.datasets import data_root_options
from apc_mmseg.evaluation import CRFIoUMetric, IoUAccumulator
from apc_mmseg.postprocessing import CRF_UNARIES, DEFAULT_UNARY
from apc_mmseg.visualization import prediction_panel, save_rgb, score_panel

from .demo_data import ensure_generated, generation_record
from .figures import REPO, fingerprint
from .k_histogram_hook import KHistogramHook  # noqa: F401  (registers the hook)
from .numerics import fix_numerics

# The demo config as it trains from random weights: no checkpoint, and no
# warm-up with the (random) ViT held.
FROM_SCRATCH = {
    'model.backbone.init_cfg': None,
    'optim_wrapper.paramwise_cfg': dict(_delete_=True, custom_keys={}),
    'param_scheduler': [dict(type='UnfreezeStepLR', milestone=10 ** 9, by_epoch=False)]}


IGNORE_INDEX = 255  # the label of pixels no figure counts (mmseg's ignore_index)


def _percent(count, total):
    return None if total == 0 else 100.0 * float(count) / float(total)


def foreground_share(preds, labels, ignore_index: int = IGNORE_INDEX):
    """The % of the evaluated pixels (``label != ignore_index``) of all the
    images that ``preds`` give any foreground class (an id other than 0, the
    background), counted over the whole split (not averaged per image); None
    where no pixel is evaluated. ``preds`` and ``labels``: ``[H, W]`` class
    ids, image by image; ``labels`` as ``preds`` gives the ground truth's
    share, the reference a prediction's share is read against."""
    evaluated = foreground = 0
    for pred, label in zip(preds, labels):
        keep = np.asarray(label) != ignore_index
        evaluated += int(keep.sum())
        foreground += int((np.asarray(pred)[keep] != 0).sum())
    return _percent(foreground, evaluated)


def pixel_agreement(preds, others, labels, ignore_index: int = IGNORE_INDEX):
    """The % of the evaluated pixels (``label != ignore_index``) of all the
    images where ``preds`` and ``others`` give the same class (None where no
    pixel is evaluated): two rows whose predictions agree on nearly every
    pixel are one result, whatever their inputs."""
    evaluated = same = 0
    for pred, other, label in zip(preds, others, labels):
        keep = np.asarray(label) != ignore_index
        evaluated += int(keep.sum())
        same += int((np.asarray(pred)[keep] == np.asarray(other)[keep]).sum())
    return _percent(same, evaluated)


def area_foreground_share(area_pred) -> float:
    """``foreground_share`` from the per-class pixel counts of a prediction
    (``area_pred[c]``: evaluated pixels given class ``c``; mmseg's
    ``area_pred_label``, which counts no ignored pixel)."""
    area_pred = np.asarray(area_pred, dtype=np.float64)
    return _percent(area_pred.sum() - area_pred[0], area_pred.sum())


class _ForegroundShare:
    """Adds ``fg_share`` (``area_foreground_share`` of the test's summed
    predicted areas) to an ``IoUMetric``'s figures; the others, mIoU
    included, are the parent's, from the same counts."""

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if results and not self.format_only:
            metrics['fg_share'] = area_foreground_share(sum(r[2] for r in results))
        return metrics


@METRICS.register_module()
class ForegroundShareIoUMetric(_ForegroundShare, IoUMetric):
    """mmseg's ``IoUMetric`` with the prediction's foreground share."""


@METRICS.register_module()
class ForegroundShareCRFIoUMetric(_ForegroundShare, CRFIoUMetric):
    """``CRFIoUMetric`` (the decode head refined by DenseCRF) with the refined
    prediction's foreground share: the CRF's label maps stay in its worker
    processes, but their per-class pixel counts come back, and they hold it."""


def label_maps(dataset) -> list:
    """The ground truth ``[H, W]`` of each image of ``dataset``."""
    return [np.array(Image.open(dataset.get_data_info(i)['seg_map_path']))
            for i in range(len(dataset))]


def read_masks(folder: str, dataset):
    """The label maps ``make_pseudo_masks`` wrote into ``folder``
    (``<img_id>.png``), image by image in ``dataset``'s order."""
    for i in range(len(dataset)):
        yield np.array(Image.open(osp.join(folder, dataset.get_data_info(i)['img_id'] + '.png')))


def baselines(dataset, num_classes):
    """(mIoU, foreground share) of 'all background' (a share of 0 by
    construction) and of 'first labelled class everywhere'."""
    bg, first = IoUAccumulator(num_classes), IoUAccumulator(num_classes)
    gts, firsts = label_maps(dataset), []
    for i, gt in enumerate(gts):
        bg.add(np.zeros_like(gt), gt)
        labels = dataset.get_data_info(i)['image_labels']
        firsts.append(np.full_like(gt, labels[0] if labels else 0))
        first.add(firsts[-1], gt)
    return ((bg.miou(), foreground_share((np.zeros_like(gt) for gt in gts), gts)),
            (first.miou(), foreground_share(firsts, gts)))


def decode_label_maps(model, dataset) -> list:
    """The decode head's ``[H, W]`` class ids of each image of ``dataset``."""
    return [decode_probs(model, dataset.get_data_info(i)['img_path']).argmax(0).cpu().numpy()
            for i in range(len(dataset))]


def decode_per_class_iou(model, dataset, num_classes, preds=None):
    """The decode head's IoU per class over ``dataset`` (mmseg's rules);
    ``preds``: its label maps if already predicted (``decode_label_maps``)."""
    acc = IoUAccumulator(num_classes)
    for pred, gt in zip(preds if preds is not None else decode_label_maps(model, dataset),
                        label_maps(dataset)):
        acc.add(pred, gt)
    return (acc.per_class() * 100).tolist()


def draw(model, dataset, out_dir, count=6):
    """Heat maps of the patch scores (labelled classes) and decode-head overlays."""
    os.makedirs(out_dir, exist_ok=True)
    names, palette = dataset.metainfo['classes'], dataset.metainfo['palette']
    model.eval()
    for i in range(min(count, len(dataset))):
        info = dataset.get_data_info(i)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        sample = pseudo_collate([dataset[i]])['data_samples'][0]
        labels = sample.gt_image_labels
        scores = patch_scores(model, info['img_path'], labels).cpu().numpy()
        save_rgb(osp.join(out_dir, f"{info['img_id']}_heatmaps.png"),
                 score_panel(image, scores, [c for c in labels.nonzero()[:, 0].tolist() if c > 0],
                             names))
        pred = decode_probs(model, info['img_path']).argmax(0).cpu().numpy()
        gt = sample.gt_sem_seg.data[0].cpu().numpy()
        save_rgb(osp.join(out_dir, f"{info['img_id']}_prediction.png"),
                 prediction_panel(image, pred, gt, names, palette))


def run_options(iters=None, cfg_options: dict = None, from_scratch: bool = False) -> dict:
    """The config options a demo run merges, besides its data root, seed and
    work dir: ``FROM_SCRATCH`` when ``from_scratch``, then ``cfg_options``,
    then ``iters`` iterations (validated and saved at the end)."""
    options = dict(FROM_SCRATCH) if from_scratch else {}
    options.update(cfg_options or {})
    if iters:
        options.update({'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
                        'default_hooks.checkpoint.interval': iters})
    return options


def demo_config(config: str, data: str, work_dir: str, seed: int, iters=None,
                cfg_options: dict = None, from_scratch: bool = False,
                eval_split: str = 'test', crf_workers: int = 2) -> Config:
    """``config`` as one demo run trains it: ``run_options``, on ``data``,
    into ``work_dir``, with ``seed``, tested on ``eval_split`` without and
    with DenseCRF (``crf_workers`` processes)."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(run_options(iters, cfg_options, from_scratch))
    cfg.merge_from_dict(data_root_options(cfg, data))
    cfg.test_dataloader.dataset.ann_file = split_file(eval_split)
    # the decode head as mmseg scores it, and refined by DenseCRF (the paper's
    # protocol for its final figures); each with its foreground share
    cfg.test_evaluator = [dict(type='ForegroundShareIoUMetric', iou_metrics=['mIoU']),
                          dict(type='ForegroundShareCRFIoUMetric', iou_metrics=['mIoU'],
                               prefix='crf', workers=crf_workers)]
    # how often AKP chose each K over training (apc_lab/k_histogram_hook.py)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='KHistogramHook')]
    cfg.work_dir = work_dir
    # mmengine hands a visualizer of an existing name back to the next runner
    # of the process (its logs in the first run's folder): one name per run.
    cfg.get('visualizer', {}).pop('name', None)
    cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    return cfg


def split_file(split: str) -> str:
    return f'ImageSets/Segmentation/{split}.txt'


def train_and_test(cfg: Config) -> tuple:
    """Train ``cfg``, then test its last checkpoint; returns (checkpoint,
    device, classifier mAP of the last validation, training seconds, the
    test's metrics: ``mIoU`` the decode head's, ``crf/mIoU`` with DenseCRF,
    ``fg_share`` and ``crf/fg_share`` their foreground shares)."""
    t0 = time.perf_counter()
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()
    # The last validation (at max_iters) judged the image classifier on val.
    cls_map = float(runner.message_hub.get_scalar('val/cls_mAP').current())
    train_seconds = time.perf_counter() - t0
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    device = str(next(runner.model.parameters()).device)
    return checkpoint, device, cls_map, train_seconds, runner.test()


def pseudo_mask_dir(work_dir: str, unary=None) -> str:
    """Where a demo run writes its pseudo masks: without CRF (None) or with
    the CRF unary ``unary``."""
    return osp.join(work_dir, 'pseudo_masks' + (f'_crf_{unary}' if unary else ''))


def pseudo_mask_figures(cfg: Config, checkpoint: str, split: str, unaries, workers: int) -> dict:
    """``make_pseudo_masks``'s figures on ``split`` without CRF (key None)
    and with each CRF unary of ``unaries`` (its name); the masks in
    ``pseudo_mask_dir``."""
    figures = {}
    for unary in (None, ) + tuple(unaries):
        out_dir = pseudo_mask_dir(cfg.work_dir, unary)
        figures[unary] = make_pseudo_masks(cfg, checkpoint, out_dir, ann_file=split_file(split),
                                           mask_dir='SegmentationClass',
                                           crf=bool(unary) and dict(unary=unary),
                                           workers=workers, overwrite=True, progress=False)
    return figures


def _rows(split: str, decode: dict, pseudo, baseline, pseudo_shares: dict) -> list:
    """The summary's rows: dict(what, <split>=mIoU, fg_share=its foreground
    share on the split, in %). ``decode``: the test's metrics
    (``train_and_test``); ``pseudo``: ``pseudo_mask_figures``; ``baseline``:
    ``baselines``; ``pseudo_shares``: the share of each of ``pseudo``'s mask
    folders (same keys)."""
    rows = [('decode head (no labels)', decode['mIoU'], decode.get('fg_share')),
            ('decode head + CRF (no labels)', decode['crf/mIoU'], decode.get('crf/fg_share')),
            ('patch scores + image labels', pseudo[None]['miou'], pseudo_shares[None])]
    rows += [(f'patch scores + image labels + CRF ({u})', pseudo[u]['miou'], pseudo_shares[u])
             for u in pseudo if u]
    rows += [('baseline: all background', ) + tuple(baseline[0]),
             ('baseline: first labelled class', ) + tuple(baseline[1])]
    return [{'what': name, split: float(value),
             'fg_share': None if share is None else float(share)}
            for name, value, share in rows]


def _read_json(path: str):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def run_demo(config: str, data: str = 'data/demo', work_dir: str = 'work_dirs/demo',
             iters=None, num_train: int = 200, num_val: int = 50, workers: int = 2,
             seed: int = 0, dataset: str = 'demo', cfg_options: dict = None,
             from_scratch: bool = False, unaries=None, pictures: bool = True,
             eval_split: str = 'test', num_test: int = 100) -> dict:
    """Generate the ``dataset`` (unless there), train with ``seed``,
    evaluate on ``eval_split``, draw; returns the summary (``rows`` of
    (what, mIoU on the split, ``fg_share``: its foreground share), the
    ground truth's ``gt_fg_share``, the ``decode_pseudo_agreement`` of the
    decode head's and the pseudo masks' (no CRF) label maps, the
    classifier's val ``cls_mAP``, per-class IoU, timings, the numerics
    record) also written to ``<work_dir>/summary.json``. The shares and the
    agreement count the split's evaluated pixels (``foreground_share``,
    ``pixel_agreement``), and no model runs again for them: the decode
    head's shares, without and with CRF, come from the test's own pixel
    counts (``ForegroundShare(CRF)IoUMetric``: the CRF's label maps never
    leave its workers); the agreement compares the decode head's label maps
    that its per-class IoU is counted from (the test's predictions: the same
    share) with the pseudo masks read back from their folder; the pseudo
    masks' shares are read back too. The pseudo masks are refined with each CRF
    unary in ``unaries`` (default: all of ``CRF_UNARIES``, the default one
    first); ``pictures=False`` draws nothing."""
    t0 = time.perf_counter()
    numerics = fix_numerics()
    ensure_generated(data, num_train, num_val, seed=0, dataset=dataset, num_test=num_test)
    cfg = demo_config(config, data, work_dir, seed, iters, cfg_options, from_scratch,
                      eval_split, workers)
    ckpt, device, cls_map, train_seconds, decode = train_and_test(cfg)
    if unaries is None:
        unaries = (DEFAULT_UNARY, ) + tuple(sorted(set(CRF_UNARIES) - {DEFAULT_UNARY}))
    pseudo = pseudo_mask_figures(cfg, ckpt, eval_split, unaries, workers)
    num_classes = cfg.model.decode_head.num_classes
    eval_set = build_label_dataset(cfg, split_file(eval_split), 'SegmentationClass',
                                   data_root=data)
    model = init_model(cfg, ckpt, device=device)
    if pictures:
        draw(model, eval_set, osp.join(work_dir, 'vis'))
    gts, decode_maps = label_maps(eval_set), decode_label_maps(model, eval_set)
    pseudo_shares = {u: foreground_share(read_masks(pseudo_mask_dir(work_dir, u), eval_set), gts)
                     for u in pseudo}
    agreement = pixel_agreement(decode_maps, read_masks(pseudo_mask_dir(work_dir), eval_set),
                                gts)
    per_class = dict(classes=list(eval_set.metainfo['classes']), split=eval_split,
                     decode=decode_per_class_iou(model, eval_set, num_classes, decode_maps),
                     pseudo=[100 * v for v in pseudo[None]['per_class_iou']],
                     **{f'pseudo_crf_{u}': [100 * v for v in pseudo[u]['per_class_iou']]
                        for u in unaries})
    summary = dict(rows=_rows(eval_split, decode, pseudo,
                              baselines(eval_set, num_classes), pseudo_shares),
                   gt_fg_share=foreground_share(gts, gts),
                   decode_pseudo_agreement=agreement,
                   split=eval_split, train_seconds=train_seconds,
                   total_seconds=time.perf_counter() - t0,
                   pseudo_images_per_s=pseudo[None]['images_per_s'],
                   pseudo_crf_images_per_s=pseudo[unaries[0]]['images_per_s'],
                   vis_dir=osp.join(work_dir, 'vis') if pictures else None,
                   cls_mAP=cls_map, seed=seed, from_scratch=from_scratch,
                   per_class_iou=per_class, numerics=numerics,
                   k_histogram=_read_json(osp.join(work_dir, 'k_histogram.json')))
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


# what ``decode_pseudo_agreement`` compares, as the table names it
AGREEMENT = 'agreement, decode head (no labels) vs patch scores + image labels'


def figure_text(value, width: int) -> str:
    """One figure (a number, a ``spread`` or None) right-aligned in ``width``."""
    if value is None:
        return f"{'-':>{width}s}"
    if isinstance(value, dict):  # several seeds
        return f'{spread_text(value):>{width}s}'
    return f'{value:{width}.1f}'


def demo_table(summary: dict, title: str, seeds, split: str) -> str:
    """The table ``tools/demo.py`` prints: a row per figure with its mIoU and
    its foreground share on ``split``, the ground truth's share as the
    reference row, then the agreement of the decode head and the pseudo
    masks (no CRF) and what the shares count. A ``run_demo`` summary (one
    seed) or a ``run_demo_seeds`` one (each figure as ``spread_text``); a
    figure the summary lacks reads '-'."""
    width = 10 if len(seeds) == 1 else 8 + 5 * len(seeds) + 8
    seeds_text = ', '.join(map(str, seeds))
    lines = [f"{f'{title} (%; seed {seeds_text})':43s} {f'{split} mIoU':>{width}s} "
             f"{'fg share':>{width}s}"]
    lines += [f"{row['what']:43s} {figure_text(row[split], width)} "
              f"{figure_text(row.get('fg_share'), width)}" for row in summary['rows']]
    lines.append(f"{'ground truth (reference)':43s} {figure_text(None, width)} "
                 f"{figure_text(summary.get('gt_fg_share'), width)}")
    agreement = summary.get('decode_pseudo_agreement')
    lines += ['', f'{AGREEMENT}: {figure_text(agreement, 0).strip()}',
              f"fg share: % of the {split} split's evaluated pixels (label != {IGNORE_INDEX}) "
              'given any non-background class;',
              'agreement: % of them given the same class by both']
    return '\n'.join(lines)


def demo_fingerprint(config: str, data: str, seeds, dataset: str = 'demo', iters=None,
                     cfg_options: dict = None, from_scratch: bool = False,
                     num_train: int = 200, num_val: int = 50, num_test: int = 100,
                     **_) -> dict:
    """``apc_lab.figures.fingerprint`` of demo runs with these settings: the
    merged config, the backbone's checkpoint, the generated set, the sources."""
    options = run_options(iters, cfg_options, from_scratch)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    checkpoint = (cfg.model.backbone.get('init_cfg') or {}).get('checkpoint')
    rel = lambda path: osp.relpath(osp.realpath(path), REPO)  # noqa: E731
    return fingerprint({rel(config): options}, [rel(checkpoint)] if checkpoint else [],
                       [generation_record(num_train, num_val, 0, dataset, num_test)])


def spread(values) -> dict:
    """``values`` (one per seed) with their ``mean`` and ``std`` (sample
    standard deviation, 0 for one value)."""
    return dict(mean=float(np.mean(values)), values=list(values),
                std=float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)


def spread_text(figure: dict) -> str:
    """A ``spread`` as 'mean ± std (value value ...)', one decimal."""
    return (f"{figure['mean']:.1f} ± {figure['std']:.1f} ("
            + ' '.join(f'{v:.1f}' for v in figure['values']) + ')')


def run_demo_seeds(config: str, seeds, data: str = 'data/demo',
                   work_dir: str = 'work_dirs/demo', **kwargs) -> dict:
    """``run_demo`` once per seed (work dirs ``<work_dir>/seed_<s>``); returns
    (and writes to ``<work_dir>/seeds_summary.json``) the rows with each
    figure's (mIoU, ``fg_share``) ``mean``, ``std`` (sample standard
    deviation, 0 for one seed) and per-seed ``values``, the same for
    ``gt_fg_share`` and ``decode_pseudo_agreement``, and every run's summary."""
    runs = [run_demo(config, data, osp.join(work_dir, f'seed_{s}'), seed=s, **kwargs)
            for s in seeds]

    def over_seeds(values):
        return None if any(v is None for v in values) else spread(values)

    rows = []
    for i, row in enumerate(runs[0]['rows']):
        out = dict(what=row['what'])
        for key in set(row) - {'what'}:
            out[key] = over_seeds([run['rows'][i][key] for run in runs])
        rows.append(out)
    summary = dict(seeds=list(seeds), rows=rows,
                   **{key: over_seeds([run[key] for run in runs])
                      for key in ('gt_fg_share', 'decode_pseudo_agreement')},
                   runs=runs)
    with open(osp.join(work_dir, 'seeds_summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


def compare_runs(work_dirs, names=None) -> str:
    """A markdown table of several ``run_demo_seeds`` results (their
    ``seeds_summary.json``), one row per work dir: the decode head's val mIoU
    and the pseudo masks' train mIoU without and with CRF, each as
    mean ± sample std with the per-seed values."""
    header = None
    lines = []
    for i, work_dir in enumerate(work_dirs):
        with open(osp.join(work_dir, 'seeds_summary.json')) as f:
            summary = json.load(f)
        cells = [(row['what'], split, row[split]) for row in summary['rows']
                 if not row['what'].startswith('baseline')
                 for split in ('val', 'train', 'test') if row.get(split) is not None]
        if header is None:
            header = [f'{what} ({split})' for what, split, _ in cells]
            lines += ['| run | ' + ' | '.join(header) + ' |',
                      '|---|' + '---|' * len(header)]
        name = names[i] if names else osp.basename(osp.normpath(work_dir))
        lines.append(f'| {name} | ' + ' | '.join(spread_text(c) for _, _, c in cells) + ' |')
    return '\n'.join(lines)
