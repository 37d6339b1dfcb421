"""The one pool that runs DenseCRF jobs: CRFIoUMetric, the pseudo masks and
the segmentor's ``test_cfg.crf`` submit to it."""
import os
import os.path as osp
import pickle
import queue
import subprocess
import sys
import threading
from typing import Any, Callable, Iterable, Iterator, List

from . import crf_jobs
from .crf_jobs import _read, _write

# A worker imports ``crf_jobs`` under stand-ins for the two packages above it
# (and ``utils``, for the image check it imports), so that their ``__init__``
# (torch, mmcv, mmseg, the registries: seconds of CPU) does not run; its
# stdout carries the results, stray prints go to stderr.
_BOOT = '''
import os, sys, types
for name, path in (("apc_mmseg", sys.argv[1]), ("apc_mmseg.postprocessing", sys.argv[2]),
                   ("apc_mmseg.utils", os.path.join(sys.argv[1], "utils"))):
    stand_in = types.ModuleType(name)
    stand_in.__path__ = [path]
    sys.modules[name] = stand_in
results = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
import cv2
cv2.setNumThreads(1)
from apc_mmseg.postprocessing.crf_jobs import serve
serve(sys.stdin.buffer, results)
'''
_HERE = osp.dirname(osp.abspath(__file__))
_ONE_THREAD = dict(OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')


class CRFPool:
    """DenseCRF jobs in ``workers`` worker processes of one thread each, with
    at most ``in_flight * workers`` jobs submitted and not yet collected (a
    long stream of score maps never piles up in memory); results come back in
    the order of submission. ``workers <= 1``: each job runs at once, in this
    process.

    Workers are fresh interpreters (safe after torch and CUDA are initialised)
    that import only ``crf_jobs`` (NumPy, OpenCV, pydensecrf): ready in about
    0.2 s where a spawned ``multiprocessing`` worker, which imports the
    package and the caller's main module, took seconds. One thread per worker
    in this process sends its jobs and reads its answers, so the workers keep
    going while the caller runs the model.

    ``submit(fn, *args)`` returns the results that are ready (in order),
    ``drain()`` the rest; ``map(fn, jobs)`` streams a whole iterable. ``fn``
    is one of ``crf_jobs``' functions (``crf_label_map``,
    ``crf_areas``), its arguments small: a path rather than pixels, the
    present classes' probabilities only. A job that raises raises the same
    exception in the caller.
    """

    def __init__(self, workers: int = 1, in_flight: int = 4):
        self.workers = max(1, int(workers))
        self.limit = in_flight * self.workers
        self._procs: List[subprocess.Popen] = []
        self._threads: List[threading.Thread] = []
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: dict = {}
        self._submitted = self._collected = 0
        self._ready = threading.Condition()

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet collected."""
        return self._submitted - self._collected

    def submit(self, fn: Callable, *args) -> List[Any]:
        if self.workers == 1:
            return [fn(*args)]
        if getattr(fn, '__module__', None) != crf_jobs.__name__:
            raise ValueError(f'CRFPool runs the functions of {crf_jobs.__name__} (its workers '
                             f'import nothing else), not {fn!r}')
        if not self._procs:
            self._start()
        self._todo.put((self._submitted, pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)))
        self._submitted += 1
        return self._collect(self._submitted - self.limit)

    def drain(self) -> List[Any]:
        return self._collect(self._submitted)

    def map(self, fn: Callable, jobs: Iterable[tuple]) -> Iterator[Any]:
        for args in jobs:
            yield from self.submit(fn, *args)
        yield from self.drain()

    def close(self) -> None:
        """Stop the workers (each ends at the end of its input)."""
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()
        for proc in self._procs:
            try:
                proc.stdin.close()
            except OSError:  # a worker that died: its pipe is broken
                pass
            proc.wait()
            proc.stdout.close()
        self._procs, self._threads = [], []

    def terminate(self) -> None:
        """Stop the workers now, jobs in flight or not."""
        for proc in self._procs:
            proc.kill()
        self.close()

    def __enter__(self) -> 'CRFPool':
        return self

    def __exit__(self, *exc) -> None:
        self.terminate() if exc[0] is not None else self.close()

    def _start(self) -> None:
        env = dict(os.environ, **_ONE_THREAD)
        for _ in range(self.workers):
            proc = subprocess.Popen([sys.executable, '-c', _BOOT, osp.dirname(_HERE), _HERE],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            thread = threading.Thread(target=self._feed, args=(proc,), daemon=True)
            thread.start()
            self._procs.append(proc)
            self._threads.append(thread)

    def _feed(self, proc: subprocess.Popen) -> None:
        """One worker's link: send it the next job, wait for its answer."""
        while (job := self._todo.get()) is not None:
            index, payload = job
            try:
                _write(proc.stdin, payload)
                reply = _read(proc.stdout)
                answer = pickle.loads(reply) if reply else None
            except (OSError, EOFError, pickle.UnpicklingError):
                answer = None
            if answer is None:
                answer = (False, RuntimeError(f'CRF worker {proc.pid} stopped (exit code '
                                              f'{proc.poll()}); see its messages above'))
            with self._ready:
                self._answers[index] = answer
                self._ready.notify_all()

    def _collect(self, until: int) -> List[Any]:
        """The answers in order, waiting until at least ``until`` are in."""
        done = []
        with self._ready:
            while True:
                while self._collected in self._answers:
                    ok, value = self._answers.pop(self._collected)
                    self._collected += 1
                    if not ok:
                        raise value
                    done.append(value)
                if self._collected >= until:
                    return done
                self._ready.wait()

