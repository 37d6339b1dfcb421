"""tools/demo.py --ablations: a SIGTERM to the tool stops its pool's workers
(a plain ``kill`` used to leave them training the queued runs), and the
caller's SIGTERM handler is back once the tool returns."""
import os
import signal
import subprocess
import sys
import time

from helpers import REPO, load_tool, tool_env

from apc_lab import ablation

# the tool's --ablations with run_ablations replaced by a pool of two spawned
# workers that would sleep for ten minutes; their pids go to argv[1] once both run
TOOL_WITH_SLEEPING_POOL = '''
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from apc_lab import ablation
from helpers import load_tool

def sleeping_pool(datasets, work_dir, **kwargs):
    with ProcessPoolExecutor(2, mp_context=get_context('spawn')) as pool:
        futures = [pool.submit(time.sleep, 600) for _ in range(4)]
        while len(multiprocessing.active_children()) < 2:
            time.sleep(0.05)
        with open(sys.argv[1] + '.part', 'w') as f:
            f.write(' '.join(str(p.pid) for p in multiprocessing.active_children()))
        os.replace(sys.argv[1] + '.part', sys.argv[1])
        return [f.result() for f in futures]

ablation.run_ablations = sleeping_pool
load_tool('tools/demo.py').main(['--ablations', '--work-dir', sys.argv[2]])
'''


def stopped(pid: int) -> bool:
    """Gone, or a zombie (dead; an orphan may wait for a reaper here)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except FileNotFoundError:
        return True


def wait_for(condition, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_a_sigterm_to_the_tool_stops_its_workers(tmp_path):
    pids_file = tmp_path / 'pids'
    proc = subprocess.Popen([sys.executable, '-c', TOOL_WITH_SLEEPING_POOL, str(pids_file),
                             str(tmp_path / 'work')], cwd=REPO, env=tool_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: pids_file.exists() or proc.poll() is not None), 'no pool started'
        assert proc.poll() is None, proc.communicate()[0][-4000:]
        workers = [int(p) for p in pids_file.read_text().split()]
        assert len(workers) == 2 and not any(stopped(pid) for pid in workers)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=120)[0]
        assert proc.returncode == 128 + signal.SIGTERM, out[-4000:]
        assert wait_for(lambda: all(stopped(pid) for pid in workers)), 'a worker still runs'
    finally:
        proc.kill()
        for pid in [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []:
            if not stopped(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_tool_hands_sigterm_back(tmp_path, monkeypatch):
    """In-process (a test, a notebook): the tool's handler is set only while
    its runs train, and the caller's own handler is restored afterwards."""
    def callers_handler(signum, frame):
        pass

    seen = []

    def fake(datasets, work_dir, **kwargs):
        seen.append(signal.getsignal(signal.SIGTERM))
        return dict(seeds=[0], iters=1, arms=[])

    monkeypatch.setattr(ablation, 'run_ablations', fake)
    monkeypatch.setattr(ablation, 'claims_table', lambda result: '')
    monkeypatch.setattr(ablation, 'ablation_tables', lambda result: '')
    previous = signal.signal(signal.SIGTERM, callers_handler)
    try:
        load_tool('tools/demo.py').main(['--ablations', '--work-dir', str(tmp_path)])
        assert signal.getsignal(signal.SIGTERM) is callers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(seen) == 1 and seen[0] not in (callers_handler, signal.SIG_DFL)
