"""Never leave a half-written file where mmengine writes (checkpoints above all)."""
import os
import os.path as osp
import tempfile

from mmengine.fileio import LocalBackend, io, register_backend


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


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend whose writes are atomic.

    Data goes to a temporary file in the same folder, is flushed to disk, and
    replaces the target in one ``os.replace``: a process killed while saving
    leaves the previous file (and the previous checkpoint) intact. The file
    gets the mode a plain ``open()`` would give it (0666 less the umask), so
    colleagues on a shared cluster can read the checkpoints.
    """

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(filepath) + '.')
        try:
            # mkstemp creates the file 0600; give it the mode open() would.
            os.fchmod(fd, 0o666 & ~current_umask())
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
