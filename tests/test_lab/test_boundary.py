"""The plugin and the lab: one arrow between them, lab -> plugin."""
import ast
import glob
import os.path as osp
import subprocess
import sys

from helpers import REPO


def imported_modules(package):
    found = []
    for path in glob.glob(osp.join(REPO, package, '**', '*.py'), recursive=True):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                found.append((path, node.module or ''))
            elif isinstance(node, ast.Import):
                found += [(path, a.name) for a in node.names]
    return found


def test_the_plugin_never_imports_the_lab():
    assert [(p, m) for p, m in imported_modules('apc_mmseg') if m.startswith('apc_lab')] == []


def test_the_lab_builds_on_the_plugin():
    assert any(m.startswith('apc_mmseg') for _, m in imported_modules('apc_lab'))


def test_importing_the_plugin_loads_nothing_of_the_lab():
    code = 'import sys, apc_mmseg; print(sorted(m for m in sys.modules if "apc_lab" in m))'
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == '[]', out.stderr[-2000:]
