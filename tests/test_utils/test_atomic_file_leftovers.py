"""Issue 41 §4: a process killed while it saves leaves its (checkpoint-sized)
temporary file; the next write into that folder removes it, and only it: a
write in progress, another host's file and look-alikes of the user stay."""
import os
import subprocess
import sys

from helpers import REPO

from apc_mmseg.utils.atomic_file import AtomicLocalBackend

# Saves argv[1]/iter_1.pth with the tree's atomic_file.py (loaded alone: no torch
# to import) and is SIGKILLed, so no clean-up runs, as the file would replace it.
KILLED_WRITER = '''
import importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location(
    'atomic_file', os.path.join(sys.argv[2], 'apc_mmseg/utils/atomic_file.py'))
atomic_file = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic_file)
atomic_file.os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
atomic_file.AtomicLocalBackend().put(b'x' * 4096, os.path.join(sys.argv[1], 'iter_1.pth'))
'''


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_killed_writes_temporary_file_goes_with_the_next_write(tmp_path):
    proc = subprocess.run([sys.executable, '-c', KILLED_WRITER, str(tmp_path), REPO])
    assert proc.returncode == -9
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith('.iter_1.pth.')  # the killed write's
    AtomicLocalBackend().put(b'ok', tmp_path / 'iter_2.pth')
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth']
    assert (tmp_path / 'iter_2.pth').read_bytes() == b'ok'


def test_only_a_dead_writers_file_of_this_host_is_removed(tmp_path):
    from apc_mmseg.utils.atomic_file import pid_space
    here, gone = pid_space(), dead_pid()
    other_host = 'f' * 12 if here != 'f' * 12 else 'e' * 12
    dead = f'.iter_1.pth.abcd1234.apc-tmp-{here}-{gone}'
    kept = [f'.iter_1.pth.abcd1234.apc-tmp-{here}-{os.getpid()}',  # a live writer's
            f'.iter_1.pth.abcd1234.apc-tmp-{other_host}-{gone}',  # another host's
            '.iter_1.pth.abcd1234',  # the user's (or the old naming): not ours to judge
            f'notes.apc-tmp-{here}-{gone}',  # not a hidden temporary name
            'iter_1.pth']
    for name in [dead] + kept:
        (tmp_path / name).write_bytes(b'data')
    two_days_ago = os.path.getmtime(tmp_path / dead) - 2 * 24 * 3600
    # another host's, two days old: named in a warning, never removed
    os.utime(tmp_path / kept[1], (two_days_ago, two_days_ago))
    folder = f'.dir.x.apc-tmp-{here}-{gone}'
    (tmp_path / folder).mkdir()  # a folder is never a temporary file
    AtomicLocalBackend().put(b'ok', tmp_path / 'iter_2.pth')
    assert sorted(os.listdir(tmp_path)) == sorted(kept + [folder, 'iter_2.pth'])


def test_a_killed_label_png_leaves_a_hidden_file_the_next_write_removes(tmp_path, monkeypatch):
    """A mask killed between write and rename: no half mask, nothing a later
    infer.py would list as an image (hidden, no image suffix), and gone with
    the folder's next atomic write (the tool's record)."""
    import numpy as np
    from PIL import Image

    from apc_mmseg.utils import atomic_file
    from apc_mmseg.visualization import label_png
    (tmp_path / 'a.png').write_bytes(b'old mask')
    monkeypatch.setattr(atomic_file.os, 'replace', lambda src, dst: (_ for _ in ()).throw(
        KeyboardInterrupt))
    try:
        label_png.save_label_png(str(tmp_path / 'a.png'), np.ones((4, 5)), [[0, 0, 0], [1, 2, 3]])
    except KeyboardInterrupt:
        pass
    assert sorted(os.listdir(tmp_path)) == ['a.png'] and (tmp_path / 'a.png').read_bytes() \
        == b'old mask'  # an interrupted write removes its own file
    monkeypatch.undo()
    fd, tmp = atomic_file.temporary_file(str(tmp_path / 'b.png'))  # as a SIGKILL leaves it
    os.close(fd)
    os.rename(tmp, tmp.replace(f'-{os.getpid()}', f'-{dead_pid()}'))
    (left, ) = [n for n in os.listdir(tmp_path) if n != 'a.png']
    assert left.startswith('.b.png.') and not left.endswith('.png')
    label_png.save_label_png(str(tmp_path / 'b.png'), np.ones((4, 5)), [[0, 0, 0], [1, 2, 3]])
    assert np.array_equal(np.array(Image.open(tmp_path / 'b.png')), np.ones((4, 5)))
    AtomicLocalBackend().put_text('{}', tmp_path / 'record.json')
    assert sorted(os.listdir(tmp_path)) == ['a.png', 'b.png', 'record.json']


def test_pictures_scores_and_converted_checkpoints_are_written_whole(tmp_path, monkeypatch):
    """infer.py's pictures (``save_rgb``), the score arrays and the model
    converters' checkpoints: the same bytes as the plain writes, and an
    interrupted write leaves the earlier file (or none), never a part."""
    import cv2
    import numpy as np
    import torch

    from apc_mmseg.utils import atomic_file
    from apc_mmseg.visualization import save_rgb
    picture = np.random.default_rng(0).integers(0, 255, (6, 7, 3), dtype=np.uint8)
    save_rgb(str(tmp_path / 'a.png'), picture)
    cv2.imwrite(str(tmp_path / 'plain.png'), np.ascontiguousarray(picture[..., ::-1]))
    assert (tmp_path / 'a.png').read_bytes() == (tmp_path / 'plain.png').read_bytes()
    state = dict(state_dict=dict(w=torch.arange(5.0)), meta=dict(source='x'))
    (tmp_path / 'sub').mkdir()
    atomic_file.torch_save_atomically(state, str(tmp_path / 'model.pth'))
    torch.save(state, tmp_path / 'sub' / 'model.pth')  # torch names the archive by the stem
    assert (tmp_path / 'model.pth').read_bytes() == (tmp_path / 'sub' / 'model.pth').read_bytes()
    before = {n: (tmp_path / n).read_bytes() for n in ('a.png', 'model.pth')}
    monkeypatch.setattr(atomic_file.os, 'replace', lambda src, dst: (_ for _ in ()).throw(
        KeyboardInterrupt))
    for write in (lambda: save_rgb(str(tmp_path / 'a.png'), picture[:3]),
                  lambda: atomic_file.torch_save_atomically({}, str(tmp_path / 'model.pth')),
                  lambda: atomic_file.write_atomically(str(tmp_path / 's.npy'),
                                                       lambda f: np.save(f, picture))):
        try:
            write()
        except KeyboardInterrupt:
            pass
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ['a.png', 'model.pth', 'plain.png', 'sub']
    assert {n: (tmp_path / n).read_bytes() for n in before} == before
