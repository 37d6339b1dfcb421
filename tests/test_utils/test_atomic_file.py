"""Files written through mmengine after `import apc_mmseg` keep the user's
umask, as without the import (the atomic write must not leave them 0600)."""
import os
import stat
import subprocess
import sys

SAVE = '''
import os, sys, torch
if sys.argv[2] == 'with':
    import apc_mmseg  # noqa: F401
from mmengine.runner.checkpoint import save_checkpoint
for umask in sys.argv[3:]:
    os.umask(int(umask, 8))
    save_checkpoint({'w': torch.zeros(2)}, os.path.join(sys.argv[1], umask + '.pth'))
'''
UMASKS = ('022', '027', '002')


def test_checkpoint_mode_is_the_same_with_and_without_the_package(tmp_path):
    modes = {}
    for which in ('without', 'with'):
        (tmp_path / which).mkdir()
        subprocess.run([sys.executable, '-c', SAVE, str(tmp_path / which), which, *UMASKS],
                       check=True, capture_output=True)
        modes[which] = [stat.S_IMODE(os.stat(tmp_path / which / f'{u}.pth').st_mode)
                        for u in UMASKS]
    assert modes['with'] == modes['without'] == [0o666 & ~int(u, 8) for u in UMASKS]
