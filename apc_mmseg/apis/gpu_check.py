"""The parts of ``make gpu-check`` (tools/analysis_tools/gpu_check.py) that
do not need a GPU, so that the test suite checks them on any machine."""
from typing import List

from ..datasets.demo_data import CLASSES

# Every dataset of the paper's VOC config, WSSSValDataset's two parts included.
DATASET_KEYS = ('train_dataloader.dataset', 'val_dataloader.dataset.val',
                'val_dataloader.dataset.train', 'test_dataloader.dataset')


def generated_data_options(data: str) -> List[str]:
    """``--cfg-options`` words that point configs/apc/apc_vitb16_voc.py at a
    set written by ``make_demo_data.py --out DATA`` (4 classes), from random
    init, with a 100-iteration warm-up, at 384. The datasets become
    ``WeakSegDataset`` (VOC's own type accepts VOC's class names only)."""
    classes = '(' + ','.join(CLASSES) + ')'
    return [f'{k}.type=WeakSegDataset' for k in DATASET_KEYS] + [
        f'{k}.data_root={data}' for k in DATASET_KEYS] + [
        f'{k}.metainfo.classes={classes}' for k in DATASET_KEYS] + [
        'train_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt',
        f'model.weak_head.num_classes={len(CLASSES)}',
        f'model.decode_head.num_classes={len(CLASSES)}',
        'model.backbone.init_cfg=None', 'model.test_cfg.size=(384,384)',
        'param_scheduler.0.milestone=100', 'default_hooks.logger.interval=10',
        'randomness.seed=0']
