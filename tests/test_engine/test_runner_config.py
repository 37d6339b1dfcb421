import pytest
from helpers import mmlogger_records
from mmengine.config import Config

from apc_mmseg.engine.runner_config import launcher_world_size, split_global_batch


def cfg_with(global_batch_size, batch_size=16):
    return Config(dict(global_batch_size=global_batch_size,
                       train_dataloader=dict(batch_size=batch_size)))


@pytest.mark.parametrize('world, per_process', [(1, 16), (2, 8), (8, 2), (16, 1)])
def test_the_global_batch_is_shared_by_the_processes(world, per_process):
    cfg = cfg_with(16)
    split_global_batch(cfg, world)
    assert cfg.train_dataloader.batch_size == per_process
    assert cfg.train_dataloader.batch_size * world == 16  # same epochs per iteration


def test_a_batch_that_does_not_split_is_refused():
    with pytest.raises(ValueError, match='global_batch_size=16 does not split evenly over 3'):
        split_global_batch(cfg_with(16), 3)


def test_without_a_global_batch_the_per_process_batch_stays():
    cfg = cfg_with(None, batch_size=5)
    split_global_batch(cfg, 4)
    assert cfg.train_dataloader.batch_size == 5


def test_a_replaced_per_process_batch_is_reported():
    import logging
    with mmlogger_records() as records:
        cfg = cfg_with(16, batch_size=4)
        split_global_batch(cfg, 2)
    assert cfg.train_dataloader.batch_size == 8
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any('train_dataloader.batch_size=4 replaced by 8' in m for m in warnings)


def test_world_size_of_each_launcher(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    assert launcher_world_size('none') == 1
    assert launcher_world_size('pytorch') == 4
    assert launcher_world_size('slurm') == 8
    assert launcher_world_size('mpi') == 2


def test_the_configs_one_process_batch_is_split_without_a_warning():
    """The configs carry batch_size = global_batch_size (their value for one
    process): nobody asked for another per-process batch, so no warning."""
    import logging
    with mmlogger_records() as records:
        cfg = cfg_with(16, batch_size=16)
        split_global_batch(cfg, 2)
    assert cfg.train_dataloader.batch_size == 8
    assert not [r for r in records if r.levelno == logging.WARNING]


@pytest.mark.parametrize('launcher,local,want', [('none', '4', (2, 2, 1)),
                                                 ('pytorch', '2', (1, 1, 1))])
def test_loader_workers_are_lowered_to_each_processs_cores(monkeypatch, launcher, local,
                                                           want):
    """2 usable cores: one process keeps 2 workers a loader (8 asked for),
    two processes 1 each; a loader asking for fewer keeps its own; the log
    says what changed."""
    import os

    from apc_mmseg.engine.runner_config import fit_loader_workers
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1})
    monkeypatch.setenv('LOCAL_WORLD_SIZE', local)
    cfg = Config(dict(train_dataloader=dict(num_workers=8), val_dataloader=dict(num_workers=4),
                      test_dataloader=dict(num_workers=1)))
    with mmlogger_records() as records:
        fit_loader_workers(cfg, launcher)
    got = tuple(cfg[f'{n}_dataloader'].num_workers for n in ('train', 'val', 'test'))
    assert got == want
    text = ' '.join(r.getMessage() for r in records)
    assert f'train_dataloader.num_workers 8 -> {want[0]}' in text
    assert 'test_dataloader' not in text
