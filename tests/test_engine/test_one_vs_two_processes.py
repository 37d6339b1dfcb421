import os.path as osp
import sys

import torch
from helpers import free_port, run, tool_env

SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'one_vs_two_processes.py')


def test_two_processes_match_one_process_with_the_whole_batch(tmp_path):
    env = tool_env()
    env['CUDA_VISIBLE_DEVICES'] = ''
    run([sys.executable, SCRIPT, 'single', str(tmp_path / 'one.pth')], env)
    run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={free_port()}', SCRIPT, 'ddp', str(tmp_path / 'two.pth')], env)
    one = torch.load(tmp_path / 'one.pth', weights_only=True)
    two = torch.load(tmp_path / 'two.pth', weights_only=True)
    torch.testing.assert_close(two['losses'], one['losses'], rtol=1e-5, atol=0)
    assert one['grads'].keys() == two['grads'].keys() and len(one['grads']) > 10
    for name, g in one['grads'].items():
        scale = g.abs().max().clamp_min(1e-12)
        rel = ((two['grads'][name] - g).abs().max() / scale).item()
        assert rel < 1e-5, f'{name}: relative gradient difference {rel:.2e}'
