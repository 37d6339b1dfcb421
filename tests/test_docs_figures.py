"""Every figure block of the README and docs matches the tree that made it
(apc_lab/figures.py), and no figure table lives outside such a block."""
import glob
import json
import os.path as osp
import re

import pytest
from helpers import REPO

from apc_lab import figures

RECORDS = sorted(glob.glob(osp.join(REPO, 'docs', 'figures', '*.json')))
PAGES = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))


@pytest.mark.parametrize('record', RECORDS, ids=osp.basename)
def test_the_figures_match_the_tree_that_made_them(record, converted_lite0):
    with open(record) as f:
        data = json.load(f)
    changed = figures.check_record(data)
    assert not changed, (f"{data['page']}, figures {data['name']!r} are stale: "
                         + '; '.join(changed) + f". Remake them: {data['command']}")


def test_every_figure_table_is_in_a_block():
    """A line with a figure and its spread (``61.2 ± 3.4``) is measured: it
    must sit inside a <!-- figures:... --> block."""
    stray = []
    for page in PAGES:
        text = open(page).read()
        outside = re.sub(r'<!-- figures:(\S+) -->.*?<!-- /figures:\1 -->', '', text, flags=re.S)
        stray += [f'{osp.relpath(page, REPO)}: {line.strip()[:80]}'
                  for line in outside.splitlines() if re.search(r'\d\s*±\s*\d', line)]
    assert not stray, 'figures outside a written block:\n' + '\n'.join(stray)


def test_an_edited_source_names_itself(tmp_path, monkeypatch):
    """A record made here, then one source edited: the check names it."""
    (tmp_path / 'apc_lab').mkdir()
    (tmp_path / 'apc_lab' / 'mod.py').write_text('x = 1\n')
    (tmp_path / 'page.md').write_text('a\n<!-- figures:t -->\n<!-- /figures:t -->\nb\n')
    monkeypatch.setattr(figures, 'REPO', str(tmp_path))
    monkeypatch.setattr(figures, 'RECORDS', str(tmp_path / 'records'))
    monkeypatch.setattr(figures, 'loaded_sources', lambda: {
        'apc_lab/mod.py': figures.file_digest(str(tmp_path / 'apc_lab' / 'mod.py'))})
    parts = figures.fingerprint({}, [], [])
    figures.write_figures('page.md', 't', '| x | 1.0 ± 0.1 |', 'make t', parts)
    record = json.load(open(tmp_path / 'records' / 't.json'))
    assert '| x | 1.0 ± 0.1 |' in (tmp_path / 'page.md').read_text()
    assert figures.check_record(record) == []
    (tmp_path / 'apc_lab' / 'mod.py').write_text('x = 2\n')
    assert figures.check_record(record) == ['source apc_lab/mod.py changed']
    (tmp_path / 'apc_lab' / 'mod.py').write_text('x = 1\n')
    page = (tmp_path / 'page.md').read_text()
    (tmp_path / 'page.md').write_text(page.replace('1.0 ± 0.1', '1.1 ± 0.1'))  # typed over
    assert figures.check_record(record) == ['page.md: the block differs from what the '
                                            'command wrote']
