"""Never leave a half-written file where mmengine writes (checkpoints above all)."""
import hashlib
import logging
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
import time

from mmengine.fileio import LocalBackend, io, register_backend
from mmengine.logging import print_log

# A write's temporary file: '.<target name>.<random>.apc-tmp-<where>-<pid>'.
# <where> (``pid_space``) and the writer's PID let a later write tell a killed
# writer's leftover from a write still in progress.
TMP_TAG = '.apc-tmp-'
_TMP_NAME = re.compile(r'^\..+\.apc-tmp-(?P<where>[0-9a-f]{12})-(?P<pid>[0-9]+)$')
# Leftovers of another host (a shared file system) are named once this old:
# no checkpoint takes a day to write.
FOREIGN_LEFTOVER_AGE_S = 24 * 3600


def current_umask() -> int:
    """The process's umask, read without changing it where /proc allows."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o22)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def pid_space() -> str:
    """12 hex digits naming where this process's PIDs mean something: the
    host and, on Linux, the PID namespace (containers on one host number
    their processes apart, and may share a folder)."""
    try:
        namespace = os.readlink('/proc/self/ns/pid')
    except OSError:
        namespace = ''
    return hashlib.sha1(f'{socket.gethostname()}:{namespace}'.encode()).hexdigest()[:12]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this PID space exists (a zombie counts:
    when in doubt, alive)."""
    if pid <= 0:
        return True  # not a process id a writer has; never treat it as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_leftovers(folder: str) -> list:
    """Remove the temporary files that killed writes left in ``folder``
    (a SIGKILL or a power cut skips ``put``'s clean-up, and a checkpoint's
    temporary file is checkpoint-sized); returns their paths.

    Safe with writers running beside us: only files named as ``put`` names
    them are considered, and one is removed only when its writer's PID space
    is ours and that PID is gone, so the file of a write in progress (its
    writer alive) is never touched. A reused PID only keeps a leftover
    longer. The PID of another host means nothing here: its leftovers are
    named in a warning once older than ``FOREIGN_LEFTOVER_AGE_S``, never
    removed.
    """
    here, now = pid_space(), time.time()
    removed, named = [], []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed  # an unreadable folder: the write itself will say so
    for entry in entries:
        match = _TMP_NAME.match(entry.name)
        try:
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            if match['where'] != here:
                if now - entry.stat(follow_symlinks=False).st_mtime > FOREIGN_LEFTOVER_AGE_S:
                    named.append(entry.path)
            elif not pid_alive(int(match['pid'])):
                os.remove(entry.path)
                removed.append(entry.path)
        except FileNotFoundError:
            pass  # another writer removed it first
        except OSError:
            named.append(entry.path)  # not ours to remove (permissions): say so
    if removed:
        print_log(f'removed {len(removed)} temporary file(s) of killed writes: {removed}',
                  logger='current', level=logging.WARNING)
    if named:
        print_log(f'{len(named)} temporary file(s) of writes that never finished, from '
                  f'another host or not removable: {named}; remove them once no process '
                  f'writes there', logger='current', level=logging.WARNING)
    return removed


def temporary_file(filepath: str):
    """``(fd, path)`` of a new hidden file beside ``filepath`` for writing
    it atomically: named as ``remove_leftovers`` recognises (so a killed
    writer's copy goes with a later write into the folder), with the mode a
    plain ``open()`` would give (mkstemp's is 0600)."""
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(filepath)),
                               prefix='.' + osp.basename(filepath) + '.',
                               suffix=f'{TMP_TAG}{pid_space()}-{os.getpid()}')
    os.fchmod(fd, 0o666 & ~current_umask())
    return fd, tmp


def write_atomically(path: str, write) -> None:
    """Call ``write(f)`` on a ``temporary_file`` beside ``path``, then
    rename it to ``path``: a run killed half-way leaves no half file where a
    rerun would take it for a finished one (masks, pictures, score arrays).
    No ``fsync`` and no folder scan: these are many small files a run can
    make again, unlike a checkpoint."""
    fd, tmp = temporary_file(path)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def torch_save_atomically(obj, path: str) -> None:
    """``torch.save(obj, path)``, whole or not at all, and byte for byte what
    a plain ``torch.save(obj, path)`` writes: torch names the archive inside
    the file after the file's stem, so the temporary copy keeps the name, in
    a hidden folder beside ``path``."""
    import torch  # this module is imported where torch is not (the CRF workers)
    folder = tempfile.mkdtemp(dir=osp.dirname(osp.abspath(path)),
                              prefix='.' + osp.basename(path) + '.')
    try:
        tmp = osp.join(folder, osp.basename(path))
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend whose writes are atomic.

    Data goes to a temporary file in the same folder, is flushed to disk, and
    replaces the target in one ``os.replace``: a process killed while saving
    leaves the previous file (and the previous checkpoint) intact. The file
    gets the mode a plain ``open()`` would give it (0666 less the umask), so
    colleagues on a shared cluster can read the checkpoints. A process
    killed mid-write leaves its temporary file; the next write into that
    folder removes it (``remove_leftovers``: only a dead writer's).
    """

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        remove_leftovers(folder)
        fd, tmp = temporary_file(filepath)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


def use_atomic_local_writes() -> None:
    """Make the backend of plain paths atomic (mmengine registers it as '')."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(io.backend_instances.items()):
        if type(backend) is LocalBackend:  # cached before this import
            del io.backend_instances[key]
