"""The demo's figures do not depend on the machine's cores: its first
iterations give bit-identical losses with 1 and 2 available cores (torch's
default thread count follows the cores; the lab fixes it), and the lab's
tools pin AVX2 kernels before torch loads and the lab turns oneDNN off (the
kernels it picks follow the machine's caches and threads: a 1-thread run
with it differed between two hosts at the second loss)."""
import json
import subprocess
import sys

import pytest
from helpers import REPO, tool_env

PHOTO_CONFIG = f'{REPO}/configs/apc/apc_efficientnet-lite0_photo_cpu.py'
SCRIPT = '''
import glob, json, sys
from apc_lab.numerics import pin_isa
pin_isa()
import torch
default_threads = torch.get_num_threads()
import apc_mmseg
from apc_lab.demo import demo_config, train_and_test
from apc_lab.numerics import fix_numerics
record = fix_numerics()
cfg = demo_config(sys.argv[1], sys.argv[2], sys.argv[3], seed=0, iters=3,
                  cfg_options={'default_hooks.logger.interval': 1,
                               'param_scheduler': [dict(type='UnfreezeStepLR', milestone=1,
                                                        gamma=1.0, by_epoch=False)]})
train_and_test(cfg)
losses = [json.loads(line)['loss'] for path in glob.glob(sys.argv[3] + '/*/vis_data/scalars.json')
          for line in open(path) if '"loss"' in line]
print(json.dumps(dict(default_threads=default_threads, record=record, losses=losses)))
'''


@pytest.fixture(scope='module')
def photo_data(tmp_path_factory):
    from apc_lab.demo_data import generate
    return generate(str(tmp_path_factory.mktemp('photo')), 16, 4, dataset='photo', num_test=4)


def run_on_cores(cores, data, work):
    env = tool_env()
    env.pop('OMP_NUM_THREADS', None)  # torch's default: the available cores
    proc = subprocess.run(['taskset', '-c', cores, sys.executable, '-c', SCRIPT, PHOTO_CONFIG,
                           data, str(work)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_and_two_cores_give_the_same_losses(photo_data, converted_lite0, tmp_path):
    one = run_on_cores('0', photo_data, tmp_path / 'one')
    two = run_on_cores('0,1', photo_data, tmp_path / 'two')
    assert (one['default_threads'], two['default_threads']) == (1, 2)  # different machines
    assert one['record']['threads'] == two['record']['threads'] == 1
    assert one['record']['cpu_capability'] == 'AVX2'  # pinned, whatever this CPU has
    assert one['record']['onednn'] is False
    assert len(one['losses']) == 3 and all(loss > 0 for loss in one['losses'])
    assert one['losses'] == two['losses']  # bit for bit
