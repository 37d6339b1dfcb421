"""Pseudo masks from a trained APC checkpoint (the paper's Table 2).

For every image of a split: the patch classifier's class-merged scores at the
configured inference size (optionally with flip / multi-scale), restricted to
the image's ground-truth labels, upsampled to the image, then optionally
refined by DenseCRF in worker processes. Writes palette PNGs (they open as
colours and load as class indices), optionally the scores (``.npy``,
float16), and reports mIoU when masks exist.

The output folder records what produced it (``pseudo_masks.json``: the
checkpoint's SHA-256, the model config, size, scales, flip, CRF settings and
the split) and the files it writes (``output_record``). A rerun with the same
settings reuses the masks already written (an interrupted run resumes); with
other settings it refuses, or redoes every mask with ``overwrite=True``. Only
files the record lists are reused or replaced, and no split line's name may
lead out of the folder. Command line: ``tools/make_pseudo_masks.py``.
"""
import copy
import hashlib
import json
import os.path as osp
import time
from collections import deque
from typing import List

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_reduce, barrier, get_dist_info
from mmengine.utils import ProgressBar
from mmseg.apis import init_model
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules
from PIL import Image

from ..datasets import tag_pipeline
from ..evaluation import IoUAccumulator
from ..postprocessing import DEFAULT_UNARY, CRFPool, crf_label_map, crf_settings, patch_unary
from ..utils.atomic_file import write_atomically
from ..utils.image_files import DEFAULT_MAX_PIXELS
from ..visualization import save_label_png
from .output_record import (
    RECORD_KEY,
    is_inside,
    not_listed,
    read_record,
    relative_names,
    show,
    user_files,
    write_record,
)

MANIFEST = 'pseudo_masks.json'
_BROKEN_RECORD = ('Remove the folder (its masks are made again) or use another output '
                  'folder.')


def build_label_dataset(cfg, ann_file=None, mask_dir=None, labels_file=None, data_root=None,
                        max_pixels=DEFAULT_MAX_PIXELS):
    """The config's training images (or ``ann_file``'s) with their image labels,
    and their masks when ``mask_dir`` is given, in test mode; an image of
    more than ``max_pixels`` pixels is refused before it is decoded."""
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.max_pixels = max_pixels
    if data_root:
        ds_cfg.data_root = data_root
    if ann_file:
        ds_cfg.ann_file = ann_file
    if labels_file:
        ds_cfg.labels_file = labels_file
    if not ds_cfg.get('labels_file'):
        raise ValueError('pseudo masks need image labels: give --labels-file')
    ds_cfg.data_prefix = dict(ds_cfg.get('data_prefix', {}))
    if mask_dir:
        ds_cfg.data_prefix['seg_map_path'] = mask_dir
    else:
        ds_cfg.data_prefix.pop('seg_map_path', None)
    ds_cfg.pipeline = tag_pipeline(masks=bool(mask_dir))
    ds_cfg.test_mode = True
    return DATASETS.build(ds_cfg)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def _split_line(ann_file: str, img_id: str) -> str:
    """``'<split file>, line <n>'`` of the line naming ``img_id`` (the
    dataset strips the lines it reads), for an error message."""
    try:
        with open(ann_file) as f:
            for n, line in enumerate(f, 1):
                if line.strip() == img_id:
                    return f'{ann_file}, line {n}'
    except OSError:
        pass
    return ann_file


def _output_names(dataset, out_dir: str, save_scores: bool) -> List[str]:
    """The files the run writes, relative to ``out_dir``: each image's mask
    (and scores with ``save_scores``). A split line whose name would leave
    the folder (``../x``, an absolute path, a link out of it) is refused
    before anything is read or written: the tool must never count or
    replace a file outside its output folder."""
    suffixes = ('.png', '.npy') if save_scores else ('.png', )
    names = []
    for idx in range(len(dataset)):
        img_id = dataset.get_data_info(idx)['img_id']
        for suffix in suffixes:
            path = osp.join(out_dir, img_id + suffix)
            if not is_inside(out_dir, path):
                raise ValueError(
                    f'{_split_line(dataset.ann_file, img_id)}: image name {img_id!r} would '
                    f'write {path}, outside the output folder {out_dir}; a split names '
                    'images by paths inside the data folders, without ".." or a leading "/"')
            names.extend(relative_names(out_dir, [path]))
    return names


def _check_manifest(out_dir: str, settings: dict, names: List[str], overwrite: bool):
    """Refuse a folder made with other settings unless ``overwrite``, one
    that is not this tool's (files but no record), and any of ``names`` in
    the way that the folder's record does not list (a user's file is never
    reused nor replaced). Returns the record to write (``_write_manifest``,
    done with the first mask, so that a run that stops before it leaves
    nothing that blocks the next), or None where the folder's record stands."""
    path = osp.join(out_dir, MANIFEST)
    record = read_record(path, _BROKEN_RECORD)
    if record is None:
        present = user_files(out_dir, MANIFEST)
        if present:
            kind = 'PNGs' if any(n.endswith('.png') for n in present) else 'files'
            raise ValueError(f'{out_dir}: holds {kind} but no {MANIFEST}, so what made them is '
                             f'unknown ({show(present)}); pseudo masks go to a new or empty '
                             'folder, or one this tool recorded. Use another output folder')
        in_the_way = not_listed(out_dir, names, [])  # hidden names of the user's too
        if in_the_way:
            raise ValueError(f'{out_dir}: {show(in_the_way)} would be replaced but the folder '
                             f"has no {MANIFEST}: they are not this tool's. Move them away or "
                             'use another output folder')
        return dict(settings, **{RECORD_KEY: sorted(set(names))})
    legacy = RECORD_KEY not in record
    listed = record.pop(RECORD_KEY, None)
    if legacy:
        # Recorded before records listed files: which files are the tool's is
        # unknown, so they may be reused (resumed) but never replaced.
        if overwrite:
            raise ValueError(f'{osp.join(out_dir, MANIFEST)}: lists no files (an earlier '
                             'version wrote it, or it was edited), so none of the folder may be '
                             'replaced: remove the folder or use another output folder')
        listed = user_files(out_dir, MANIFEST)
    diff = sorted(k for k in set(record) | set(settings) if record.get(k) != settings.get(k))
    if diff and not overwrite:
        raise ValueError(
            f'{out_dir}: holds pseudo masks made with other settings (differ: '
            f"{', '.join(diff)}; see {MANIFEST}). Use another output folder, or "
            '--overwrite to redo every mask')
    in_the_way = not_listed(out_dir, names, listed)
    if in_the_way:
        raise ValueError(f'{out_dir}: {show(in_the_way)} would be '
                         f"{'replaced' if overwrite else 'reused'} but {MANIFEST} does not list "
                         "them: they are not this tool's. Move them away or use another "
                         'output folder')
    if not (diff or legacy) and set(names) <= set(listed):
        return None  # the same settings and files: the folder's record stands
    return dict(settings, **{RECORD_KEY: sorted(set(listed) | set(names))})


def _write_manifest(out_dir: str, record: dict) -> None:
    """Record the folder's settings and files, atomically: a run killed
    while writing it leaves the previous record, which every rerun needs."""
    write_record(osp.join(out_dir, MANIFEST), record)


class _MaskWriter:
    """Writes one rank's masks (images ``rank, rank + world, ...``) into
    ``out_dir``: reuses those already there, writes the folder's ``record``
    (None: it stands) with the first file, counts and scores what it wrote."""

    def __init__(self, model, dataset, out_dir, record, overwrite, save_scores, with_masks,
                 progress):
        self.model, self.dataset, self.out_dir = model, dataset, out_dir
        self.record = record
        self.overwrite, self.save_scores = overwrite, save_scores
        self.metric = IoUAccumulator(model.num_classes) if with_masks else None
        rank, world = get_dist_info()
        self.indices = range(rank, len(dataset), world)
        self.bar = ProgressBar(len(self.indices)) if progress and rank == 0 else None
        self.counts = dict(written=0, reused=0)

    def _record(self):
        if self.record is not None:  # with the first file written
            _write_manifest(self.out_dir, self.record)
            self.record = None

    def _score(self, pred, gt):
        if self.metric is not None:
            self.metric.add(pred, gt)
        if self.bar is not None:
            self.bar.update()

    def save(self, path, pred, gt):
        """Write one mask (a label map, H x W) and score it against ``gt``."""
        self._record()
        save_label_png(path, pred, self.dataset.metainfo['palette'])
        self.counts['written'] += 1
        self._score(pred, gt)

    def _reuse(self, path, info):
        self.counts['reused'] += 1
        if self.metric is not None:
            self._score(np.array(Image.open(path)), np.array(Image.open(info['seg_map_path'])))
        elif self.bar is not None:
            self.bar.update()

    def _predict(self, idx, img_id):
        """The model's patch scores (C x H x W, the image's labels only) and
        its label map for image ``idx``; saves the scores when asked."""
        data = pseudo_collate([self.dataset[idx]])
        with torch.no_grad():
            res = self.model.test_step(data)[0]
        scores = res.seg_logits.data.float().exp()  # log-scores
        if self.save_scores:
            self._record()
            array = scores.cpu().numpy().astype(np.float16)
            write_atomically(osp.join(self.out_dir, img_id + '.npy'),
                             lambda f: np.save(f, array))
        gt = res.gt_sem_seg.data[0].cpu().numpy() if self.metric is not None else None
        return data, scores, res.pred_sem_seg.data[0].cpu().numpy(), gt

    def pending(self, crf_unary=None):
        """(mask path, ground truth, label map) of each mask still to make, or
        with ``crf_unary`` (mask path, ground truth, CRF job): the image,
        the unary of its labelled classes and their indices."""
        for idx in self.indices:
            info = self.dataset.get_data_info(idx)
            path = osp.join(self.out_dir, info['img_id'] + '.png')
            if osp.isfile(path) and not self.overwrite:  # same settings: reuse
                self._reuse(path, info)
                continue
            data, scores, pred, gt = self._predict(idx, info['img_id'])
            if crf_unary is None:
                yield path, gt, pred
                continue
            labels = data['data_samples'][0].gt_image_labels.to(scores.device)
            present = labels.nonzero()[:, 0]  # sorted; the workers get only these
            unary = patch_unary(scores, labels, crf_unary)[present].cpu().numpy()
            yield path, gt, (info['img_path'], unary, present.tolist())

    def write_all(self, crf_cfg, workers):
        """Every pending mask, refined by DenseCRF in ``workers`` processes
        when ``crf_cfg`` is given."""
        if crf_cfg is None:
            for path, gt, pred in self.pending():
                self.save(path, pred, gt)
            return
        waiting = deque()

        def jobs():
            for path, gt, job in self.pending(crf_cfg['unary']):
                waiting.append((path, gt))
                yield job + (dense_cfg, )
        dense_cfg = {k: v for k, v in crf_cfg.items() if k != 'unary'}
        with CRFPool(workers) as pool:
            for pred in pool.map(crf_label_map, jobs()):
                path, gt = waiting.popleft()
                self.save(path, pred, gt)

    def totals(self) -> dict:
        """The counts and the mIoU's areas summed over the ranks (as one
        process would count them)."""
        counts = self.counts
        if get_dist_info()[1] > 1:
            totals = torch.tensor([counts['written'], counts['reused']], dtype=torch.float64)
            all_reduce(totals)
            counts = dict(written=int(totals[0]), reused=int(totals[1]))
            for areas in self.metric.areas if self.metric is not None else ():
                all_reduce(areas)
        if self.bar is not None:
            print()
        return dict(miou=self.metric.miou() if self.metric else None,
                    per_class_iou=self.metric.per_class().tolist() if self.metric else None,
                    **counts)


def _merged_crf_cfg(crf):
    """``crf`` (False, True or a dict of ``dense_crf`` options and ``unary``)
    as the full CRF settings, ``None`` for no CRF."""
    if not crf:
        return None
    options = dict(crf) if isinstance(crf, dict) else {}
    unary = options.pop('unary', DEFAULT_UNARY)
    return dict(crf_settings(options, 'pseudo masks crf'), unary=unary)


def _patch_test_cfg(cfg, size, scales, flip):
    """A copy of ``cfg`` whose model predicts the patch scores with the
    ground-truth labels at ``size`` / ``scales`` / ``flip``."""
    cfg = copy.deepcopy(cfg)
    test_cfg = cfg.model.test_cfg
    test_cfg.update(output='patch', use_gt_labels=True, flip=flip)
    if size:
        test_cfg.size = tuple(size)
    if scales:
        test_cfg.scales = tuple(scales)
    return cfg


def make_pseudo_masks(cfg, checkpoint, out_dir, ann_file=None, mask_dir=None,
                      labels_file=None, data_root=None, size=None, flip=False, scales=None,
                      crf=False, workers=1, save_scores=False, device='cpu', overwrite=False,
                      progress=True, max_pixels=DEFAULT_MAX_PIXELS) -> dict:
    """Write the masks; returns ``dict(miou, per_class_iou, images, written,
    reused, seconds, images_per_s)`` (``miou`` None without ``mask_dir``).
    An image of more than ``max_pixels`` pixels (None: no limit) is an error
    naming it, before it is decoded.

    In a process group (``tools/dist_pseudo_masks.sh``) each rank makes the
    masks of images ``rank, rank + world, ...`` on its own device with its own
    ``workers``; every rank checks the folder's record, rank 0 writes it once
    all have loaded the model, and the counts and the mIoU's areas are summed
    over the ranks (the same figures as one process)."""
    register_all_modules(init_default_scope=True)
    cfg = _patch_test_cfg(cfg, size, scales, flip)
    test_cfg = cfg.model.test_cfg
    crf_cfg = _merged_crf_cfg(crf)
    dataset = build_label_dataset(cfg, ann_file, mask_dir, labels_file, data_root, max_pixels)
    names = _output_names(dataset, out_dir, save_scores)
    # The model and its checkpoint first: a wrong or missing checkpoint leaves
    # the folder as it was.
    model = init_model(cfg, checkpoint, device=device)
    settings = json.loads(json.dumps(dict(
        checkpoint_sha256=file_sha256(checkpoint), model=cfg.model.to_dict(),
        size=list(test_cfg.get('size') or []), scales=list(test_cfg.get('scales', (1.0,))),
        flip=flip, crf=crf_cfg, save_scores=save_scores, images=dataset.ann_file,
        labels=dataset.labels_file)))  # tuples as JSON gives them back
    record = _check_manifest(out_dir, settings, names, overwrite)
    rank, world = get_dist_info()
    if world > 1:  # the record first, once: no rank writes a mask before it
        barrier()  # every rank has its model and has checked the folder
        if rank == 0 and record is not None:
            _write_manifest(out_dir, record)
        record = None
        barrier()
    writer = _MaskWriter(model, dataset, out_dir, record, overwrite, save_scores, bool(mask_dir),
                         progress)
    t0 = time.perf_counter()
    writer.write_all(crf_cfg, workers)
    seconds = time.perf_counter() - t0
    return dict(writer.totals(), images=len(dataset), seconds=seconds,
                images_per_s=len(dataset) / seconds)
