"""The verdict `make gpu-check` gives on a run's logged losses."""
import json

from apc_lab.training_log import losses_verdict, read_loss_rows


def rows(cls, pcl):
    return [dict(step=10 * (i + 1), loss=c + p, loss_cls=c, loss_pcl=p, loss_seg=0.01)
            for i, (c, p) in enumerate(zip(cls, pcl))]


def test_a_run_that_trains_passes():
    ok, why = losses_verdict(rows([0.9 - 0.05 * i for i in range(12)], [0.0] * 6 + [0.02] * 6))
    assert ok and 'max loss_pcl 0.0200' in why and 'over 120 iterations' in why


def test_nan_flat_or_no_contrast_fail():
    falling = [0.9 - 0.05 * i for i in range(12)]
    assert not losses_verdict(rows(falling, [0.0] * 12))[0]  # PCL never active
    assert not losses_verdict(rows([0.7] * 12, [0.02] * 12))[0]  # loss_cls not falling
    nan = rows(falling, [0.02] * 12)
    nan[4]['loss_pcl'] = float('nan')
    ok, why = losses_verdict(nan)
    assert not ok and 'finite: False' in why
    assert not losses_verdict(rows(falling[:6], [0.02] * 6))[0]  # too short to judge


def test_rows_are_read_from_every_run_of_a_work_dir(tmp_path):
    for run, steps in (('20260101_000000', (10, 20)), ('20260101_010000', (30,))):
        folder = tmp_path / run / 'vis_data'
        folder.mkdir(parents=True)
        lines = [json.dumps(dict(step=s, loss_cls=1.0 / s, loss_pcl=0.0)) for s in steps]
        lines.append(json.dumps(dict(step=30, mIoU=50.0)))  # a validation row
        (folder / 'scalars.json').write_text('\n'.join(lines) + '\n')
    assert [r['step'] for r in read_loss_rows(str(tmp_path))] == [10, 20, 30]
