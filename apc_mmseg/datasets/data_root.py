"""Pointing a config's data sets at a data root, in one place."""
from typing import Dict


def data_root_options(cfg, root: str) -> Dict[str, str]:
    """The ``--cfg-options`` (dotted keys) that set ``data_root`` of every
    data set the config's train, val and test loaders read: a
    ``WSSSValDataset``'s two parts (``val``, ``train``) each, any other data
    set itself. Merge them with ``cfg.merge_from_dict``, or pass them to a
    tool as ``key=value`` words."""
    options = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is None:
            continue
        dataset = cfg[loader].dataset
        parts = [k for k in ('val', 'train') if k in dataset]
        for key in [f'{loader}.dataset.{p}' for p in parts] or [f'{loader}.dataset']:
            options[f'{key}.data_root'] = root
    return options
