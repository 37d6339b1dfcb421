"""One function points a config's data sets at a data root."""
import os.path as osp

from helpers import REPO, load_config

from apc_mmseg.datasets import data_root_options


def test_every_data_set_of_the_loaders_and_both_wsss_parts():
    cfg = load_config(osp.join(REPO, 'configs/apc/apc_vitb16_voc.py'))
    assert data_root_options(cfg, '/d') == {
        'train_dataloader.dataset.data_root': '/d',
        'val_dataloader.dataset.val.data_root': '/d',
        'val_dataloader.dataset.train.data_root': '/d',
        'test_dataloader.dataset.data_root': '/d'}
    cfg.merge_from_dict(data_root_options(cfg, '/d'))
    assert cfg.val_dataloader.dataset.train.data_root == '/d'


def test_a_plain_validation_set():
    cfg = load_config(osp.join(REPO, 'configs/apc/apc_vitb16_coco.py'))
    assert sorted(data_root_options(cfg, 'x')) == [
        'test_dataloader.dataset.data_root', 'train_dataloader.dataset.data_root',
        'val_dataloader.dataset.data_root']
