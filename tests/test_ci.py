"""The soak script (.ci/soak_multiprocess.sh) keeps running: its rounds, with
an interpreter that records what it is asked to run (the commands themselves
run end to end in tests/test_tools/test_train_test.py: the 2-rank
dist_train.sh of the `trained` fixture, dist_test.sh on 1 and 2 ranks), their
arguments read by the tools' own parsers, a failure stops the loop; and the
pytest ids it names exist."""
import ast
import importlib.util
import json
import os.path as osp
import re
import subprocess
import sys

from helpers import DEMO_CONFIG, REPO, tool_env
from mmengine.config import Config

SOAK = osp.join(REPO, '.ci/soak_multiprocess.sh')
RECORDER = """#!{python} -S
import json, os, sys
with open(os.environ['RECORD'], 'a') as f:
    f.write(json.dumps(sys.argv[1:]) + '\\n')
sys.exit(3 if os.environ.get('FAIL_ON', '//') in ' '.join(sys.argv) else 0)
"""


def soak(tmp_path, rounds, **env):
    recorder = tmp_path / 'python'
    recorder.write_text(RECORDER.format(python=sys.executable))
    recorder.chmod(0o755)
    record = tmp_path / 'calls.jsonl'
    env = dict(tool_env(), SOAK_LOAD='0', PY=str(recorder), RECORD=str(record), **env)
    proc = subprocess.run(['bash', SOAK, str(rounds)], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    calls = [json.loads(line) for line in open(record)] if record.exists() else []
    return proc, calls


def tool_args(call):
    """``-m torch.distributed.run ... TOOL ARGS`` -> (tool name, its parse_args(ARGS))."""
    at = next(i for i, word in enumerate(call) if word.endswith('.py'))
    spec = importlib.util.spec_from_file_location('soak_tool', call[at])
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return osp.basename(call[at]), tool.parse_args(call[at + 1:]), call[:at]


def test_every_round_runs_each_check_with_arguments_the_tools_accept(tmp_path):
    proc, calls = soak(tmp_path, 2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'soak: 2 of 2 rounds passed, 0 failed, with 0 load processes' in proc.stdout
    data = calls[0][1:][calls[0].index('--out')]  # make_demo_data.py --out DIR ...
    assert calls[0][0].endswith('make_demo_data.py')
    assert len(calls) == 1 + 2 * 3  # the data, then pytest, train, test per round
    for round_calls in (calls[1:4], calls[4:7]):
        pytest_call, train_call, test_call = round_calls
        assert pytest_call[:2] == ['-m', 'pytest']
        name, train, launch = tool_args(train_call)
        assert name == 'train.py' and train.launcher == 'pytorch'
        assert '--nproc_per_node=2' in launch and launch[:2] == ['-m', 'torch.distributed.run']
        name, test, launch = tool_args(test_call)
        assert name == 'test.py' and '--nproc_per_node=2' in launch
        assert train.config == test.config == DEMO_CONFIG.replace(REPO + '/', '')
        cfg = Config.fromfile(osp.join(REPO, train.config))
        cfg.merge_from_dict(train.cfg_options)  # list indices included (pipeline.2)
        assert cfg.train_dataloader.dataset.data_root == data
        assert test.checkpoint == osp.join(
            train.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')  # what the train wrote
        assert test.cfg_options == train.cfg_options
    assert calls[3] != calls[6]  # each round its own --out


def test_a_failing_check_stops_the_loop_with_its_log(tmp_path):
    proc, calls = soak(tmp_path, 3, FAIL_ON='tools/test.py')
    assert proc.returncode == 1
    assert 'run 1, test: exit 3' in proc.stdout
    assert 'soak: 0 of 3 rounds passed, 1 failed' in proc.stdout
    assert len(calls) == 4  # data, pytest, train, the failed test: nothing after it


def test_the_pytest_ids_of_the_soak_script_exist():
    pytest_check = re.search(r'pytest\)(.*?);;', open(SOAK).read(), re.S).group(1)
    ids = re.findall(r'tests/[\w/]+\.py(?:::\w+)?', pytest_check)
    assert len(ids) == 3
    for node in ids:  # read, not collected: collecting imports the whole stack (13 s)
        path, _, name = node.partition('::')
        tree = ast.parse(open(osp.join(REPO, path)).read())
        tests = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
                 and f.name.startswith('test_')}
        assert tests and (not name or name in tests), node
