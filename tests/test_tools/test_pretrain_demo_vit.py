"""tools/pretrain_demo_vit.py writes a checkpoint the demo config's backbone
loads with every tensor used, reports its SHA-256, and is seeded: the API,
at the lab's numerics (apc_lab/numerics.py), writes the same bytes."""
import hashlib
import re
import sys

import torch
from helpers import DEMO_CONFIG, REPO, load_config, run, tool_env
from mmseg.registry import MODELS

API = '''
import sys
from apc_lab.numerics import pin_isa
pin_isa()
import apc_mmseg
from apc_lab.numerics import fix_numerics
from apc_lab.pretrain import pretrain_backbone
fix_numerics()
print(pretrain_backbone(sys.argv[1], sys.argv[2], iters=2, batch_size=4, num_images=24,
                        log=None)['sha256'])
'''


def test_the_tool_writes_what_the_demo_loads(tmp_path):
    out = tmp_path / 'vit.pth'
    text = run([sys.executable, f'{REPO}/tools/pretrain_demo_vit.py', '--iters', '2',
                '--num-images', '24', '--batch-size', '4', '--out', str(out)], tool_env())
    sha = re.search(r'SHA-256 ([0-9a-f]{64})', text).group(1)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == sha
    assert (tmp_path / 'vit.pth.sha256').read_text() == f'{sha}  vit.pth\n'  # sha256sum -c
    env = tool_env()
    env.pop('OMP_NUM_THREADS', None)  # torch's default threads: the lab fixes them
    again = run([sys.executable, '-c', API, DEMO_CONFIG, str(tmp_path / 'again.pth')], env)
    assert re.search(r'^([0-9a-f]{64})$', again, re.M).group(1) == sha
    cfg = load_config(DEMO_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = str(out)
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    written = torch.load(out, map_location='cpu', weights_only=True)
    assert written['meta']['objective'] == 'tags' and written['meta']['iters'] == 2
    assert set(written['state_dict']) == set(backbone.state_dict())
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, written['state_dict'][k]), k
