"""tests/tool_zygote.py behaves as a new interpreter would for the tests:
exit status, streams, a death by signal, a timeout; and it refuses runs
whose start-up would differ."""
import subprocess
import sys

import pytest
from helpers import ZYGOTE, run_process, tool_env


def test_a_forked_run_reports_what_a_process_would():
    env = tool_env()
    assert ZYGOTE.can_run([sys.executable, '-c', 'pass'], env)
    proc = run_process([sys.executable, '-c', 'import sys; print("out", sys.argv[1:]); '
                        'print("err", file=sys.stderr); sys.exit(4)', 'a'], env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "out ['a']\n", 'err\n')
    killed = run_process([sys.executable, '-c', 'import os, signal; '
                          'os.kill(os.getpid(), signal.SIGKILL)'], env)
    assert killed.returncode == -9  # a death by signal, not a timeout
    with pytest.raises(subprocess.TimeoutExpired):
        run_process([sys.executable, '-c', 'import time; time.sleep(60)'], env, timeout=1)


def test_runs_that_start_differently_get_a_new_interpreter():
    env = tool_env()
    assert not ZYGOTE.can_run([sys.executable, '-c', 'pass'], dict(env, OMP_NUM_THREADS='2'))
    assert not ZYGOTE.can_run([sys.executable, '-c', 'pass'], dict(env, PYTHONPATH='/elsewhere'))
    assert not ZYGOTE.can_run([sys.executable, 'tools/demo.py'], env)  # pins kernels first
    assert ZYGOTE.can_run([sys.executable, 'tools/train.py'], dict(env, PORT='1234'))
