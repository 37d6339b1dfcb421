"""docs/reliability.md names, for each case, the test that pins it: every
named test exists, so a renamed or deleted test cannot leave a row without
its evidence."""
import ast
import os.path as osp
import re

from helpers import REPO

PAGE = osp.join(REPO, 'docs', 'reliability.md')


def named_tests():
    """(file, test name) for every ``tests/...py::name`` and every ``::name``
    after it in the same table (short for the last file named)."""
    pairs, current = [], None
    for line in open(PAGE).read().splitlines():
        if not line.startswith('|'):
            current = None  # a new table names its file again
            continue
        for path, name in re.findall(r'`(tests/\S+\.py)?::(\w+)', line):
            current = path or current
            assert current, f'docs/reliability.md: ::{name} without a file before it: {line}'
            pairs.append((current, name))
    return pairs


def test_every_test_the_page_names_exists():
    pairs = named_tests()
    assert len(pairs) > 30
    missing = []
    for path, name in pairs:
        full = osp.join(REPO, path)
        if not osp.isfile(full):
            missing.append(path)
            continue
        defined = {node.name for node in ast.walk(ast.parse(open(full).read()))
                   if isinstance(node, ast.FunctionDef)}
        if name not in defined:
            missing.append(f'{path}::{name}')
    assert not missing, f'docs/reliability.md names tests that do not exist: {missing}'
