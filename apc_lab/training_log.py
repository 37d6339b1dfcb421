"""Read a run's logged losses (mmengine's ``scalars.json``) and judge them."""
import glob
import json
import math
import os.path as osp
from typing import List, Tuple


def read_loss_rows(work_dir: str) -> List[dict]:
    """The logged training rows (those with ``loss_cls``) of every run in
    ``work_dir``, in the order logged."""
    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'loss_cls' in r]


def losses_verdict(rows: List[dict], window: int = 5) -> Tuple[bool, str]:
    """Did APC train? Every logged loss finite, ``loss_pcl`` > 0 at some
    point (the contrast saw non-empty sets), and the mean ``loss_cls`` of the
    last ``window`` rows below that of the first ``window``."""
    if len(rows) < 2 * window:
        return False, f'{len(rows)} logged steps, {2 * window} needed'
    finite = all(math.isfinite(r[k]) for r in rows for k in r if k.startswith('loss'))
    pcl = max(r.get('loss_pcl', 0.0) for r in rows)
    first = sum(r['loss_cls'] for r in rows[:window]) / window
    last = sum(r['loss_cls'] for r in rows[-window:]) / window
    ok = finite and pcl > 0 and last < first
    return ok, (f'losses finite: {finite}, max loss_pcl {pcl:.4f}, loss_cls {first:.4f} -> '
                f'{last:.4f} over {rows[-1].get("step", len(rows))} iterations')
