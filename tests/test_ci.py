"""The soak script (.ci/soak_multiprocess.sh) keeps running: one round of its
tool checks, and the pytest ids it names exist."""
import ast
import os.path as osp
import re
import sys

from helpers import REPO, run, tool_env

SOAK = osp.join(REPO, '.ci/soak_multiprocess.sh')


def test_one_round_of_the_soak_scripts_tool_checks_passes():
    env = dict(tool_env(), SOAK_CHECKS='train test', SOAK_LOAD='0', PY=sys.executable)
    out = run(['bash', SOAK, '1'], env)
    assert 'soak: 1 of 1 rounds passed, 0 failed, with 0 load processes' in out, out[-2000:]


def test_the_pytest_ids_of_the_soak_script_exist():
    pytest_check = re.search(r'pytest\)(.*?);;', open(SOAK).read(), re.S).group(1)
    ids = re.findall(r'tests/[\w/]+\.py(?:::\w+)?', pytest_check)
    assert len(ids) == 2
    for node in ids:  # read, not collected: collecting imports the whole stack (13 s)
        path, _, name = node.partition('::')
        tree = ast.parse(open(osp.join(REPO, path)).read())
        tests = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
                 and f.name.startswith('test_')}
        assert tests and (not name or name in tests), node
