"""The options gpu_check.py gives the paper config, checked without a GPU."""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS

from apc_mmseg.apis.gpu_check import generated_data_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_options_parse_on_the_command_line_and_build_every_dataset(demo_data):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(['--cfg-options', *generated_data_options(demo_data)])
    cfg = Config.fromfile(osp.join(REPO, 'configs/apc/apc_vitb16_voc.py'))
    cfg.merge_from_dict(args.cfg_options)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    assert (len(train), len(val), len(test)) == (16, 4 + 16, 4)
    assert val[len(val) - 1]['data_samples'].metainfo['wsss_role'] == 'train'
    assert train.metainfo['classes'] == ('background', 'disc', 'square', 'triangle')
    assert cfg.model.decode_head.num_classes == cfg.model.weak_head.num_classes == 4
