"""Files written through mmengine after `import apc_mmseg` keep the user's
umask, as without the import (the atomic write must not leave them 0600)."""
import os
import stat
import subprocess
import sys

import pytest

SAVE = '''
import os, sys, torch
os.umask(int(sys.argv[2], 8))
if sys.argv[3] == 'with':
    import apc_mmseg  # noqa: F401
from mmengine.runner.checkpoint import save_checkpoint
save_checkpoint({'w': torch.zeros(2)}, sys.argv[1])
'''


@pytest.mark.parametrize('umask', ['022', '027', '002'])
def test_checkpoint_mode_is_the_same_with_and_without_the_package(tmp_path, umask):
    modes = {}
    for which in ('without', 'with'):
        path = tmp_path / f'{which}.pth'
        subprocess.run([sys.executable, '-c', SAVE, str(path), umask, which], check=True,
                       capture_output=True)
        modes[which] = stat.S_IMODE(os.stat(path).st_mode)
    assert modes['with'] == modes['without'] == 0o666 & ~int(umask, 8)
