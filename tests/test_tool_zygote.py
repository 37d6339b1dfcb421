"""tests/tool_zygote.py behaves as a new interpreter would for the tests:
exit status, streams, a death by signal, a timeout, torchrun's ranks and
their signals; and it refuses runs whose start-up would differ."""
import subprocess
import sys

import pytest
from helpers import ZYGOTE, free_port, run_process, tool_env

# On a machine with CUDA the tests fork nothing (a CUDA context does not
# survive a fork): every run there is a new interpreter, so there is no
# zygote to test.
pytestmark = pytest.mark.skipif(not ZYGOTE.usable(), reason='no zygote where CUDA is present')

# A rank that says whether it started with mmseg loaded (forked) and which
# rank it is; rank 1 fails when asked to, rank 0 then waits to be stopped.
# One write a line: under -u, print's text and newline are two writes, and
# the ranks share the pipe.
RANK_SCRIPT = """
import os, sys, time
os.write(1, f"preloaded {'mmseg.models' in sys.modules} rank {os.environ['RANK']}\\n".encode())
if sys.argv[1:] == ['fail']:
    if os.environ['RANK'] == '1':
        sys.exit(3)
    time.sleep(600)
"""


def torchrun(tmp_path, env, *args, timeout=600):
    script = tmp_path / 'rank.py'
    script.write_text(RANK_SCRIPT)
    return run_process([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                        f'--master_port={free_port()}', str(script), *args], env, timeout)


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


def test_torchruns_ranks_are_forked_and_a_failing_rank_stops_the_launch(tmp_path):
    """Both ranks start preloaded; when rank 1 fails, torchrun's SIGTERM
    reaches rank 0 through the stand-in (else rank 0 sleeps past the
    timeout) and the launch fails."""
    env = tool_env()
    ok = torchrun(tmp_path, env)
    assert ok.returncode == 0, ok.stderr
    assert sorted(line for line in ok.stdout.splitlines() if line.startswith('preloaded')) \
        == ['preloaded True rank 0', 'preloaded True rank 1'], ok.stdout
    failed = torchrun(tmp_path, env, 'fail', timeout=300)
    assert failed.returncode != 0 and 'exitcode  : 3' in failed.stderr, failed.stderr


def test_a_rank_that_would_start_differently_gets_a_new_interpreter(tmp_path):
    proc = torchrun(tmp_path, dict(tool_env(), MALLOC_ARENA_MAX='2'))
    assert proc.returncode == 0, proc.stderr
    assert sorted(line for line in proc.stdout.splitlines() if line.startswith('preloaded')) \
        == ['preloaded False rank 0', 'preloaded False rank 1'], proc.stdout


def test_ranks_launched_through_a_shell_script_are_forked(tmp_path):
    """tools/dist_*.sh run ``$PYTHON`` from bash, which, once it has run a
    command, drops the ``_`` the tests' processes inherit from the shell
    that started pytest (that alone once sent every launcher and rank of
    the suite to a new interpreter)."""
    script = tmp_path / 'rank.py'
    script.write_text(RANK_SCRIPT)
    env = dict(tool_env(), PYTHON=sys.executable)
    proc = run_process(['bash', '-c', f'cd . && exec "$PYTHON" -m torch.distributed.run '
                        f'--nproc_per_node=2 --master_port={free_port()} {script}'], env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(line for line in proc.stdout.splitlines() if line.startswith('preloaded')) \
        == ['preloaded True rank 0', 'preloaded True rank 1'], proc.stdout
