"""WSSSMetric inside mmseg's validation, on 1 and 2 gloo ranks."""
import json
import os.path as osp
import sys

import pytest
from helpers import DEMO_CONFIG, free_port, run, tool_env

SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'wsss_val_ranks.py')


@pytest.fixture(scope='module')
def reference(trained, demo_data, tmp_path_factory):
    """The pseudo-mask mIoU of the same 15 training images by make_pseudo_masks."""
    from helpers import tiny_cfg_options
    from mmengine.config import Config

    from apc_mmseg.apis import make_pseudo_masks
    _, ckpt, _ = trained
    tmp = tmp_path_factory.mktemp('wsss_reference')
    with open(osp.join(demo_data, 'ImageSets/Segmentation/train.txt')) as f:
        ids = f.read().split()[:15]
    split = tmp / 'first15.txt'
    split.write_text('\n'.join(ids) + '\n')
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_cfg_options(demo_data))
    return make_pseudo_masks(cfg, ckpt, str(tmp / 'masks'), ann_file=str(split),
                             mask_dir='SegmentationClass', progress=False)


@pytest.fixture(scope='module')
def validate(trained, demo_data, tmp_path_factory):
    """``validate(ranks)``: the metrics of one validation run with that many
    gloo ranks (each rank count runs once per module)."""
    _, ckpt, _ = trained
    done = {}

    def metrics_of(ranks):
        if ranks not in done:
            tmp = tmp_path_factory.mktemp(f'wsss_val_{ranks}')
            env = tool_env()
            env['CUDA_VISIBLE_DEVICES'] = ''
            run([sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={ranks}',
                 f'--master_port={free_port()}', SCRIPT, DEMO_CONFIG, ckpt, demo_data,
                 str(tmp / 'work'), str(tmp / 'metrics.json')], env)
            done[ranks] = json.loads((tmp / 'metrics.json').read_text())
        return done[ranks]
    return metrics_of


@pytest.mark.parametrize('ranks', [1, 2])
def test_validation_reports_the_wsss_metrics(validate, reference, ranks):
    metrics = validate(ranks)
    assert {'mIoU', 'pseudo_mIoU', 'cls_mF1', 'cls_mAP'} <= set(metrics)
    # the same images and masks through another code path (mmseg rounds to 0.01)
    assert metrics['pseudo_mIoU'] == pytest.approx(reference['miou'], abs=0.006)
    assert 0 <= metrics['cls_mF1'] <= 100 and 0 < metrics['cls_mAP'] <= 100


def test_two_ranks_report_what_one_rank_reports(validate):
    assert validate(2) == validate(1)
