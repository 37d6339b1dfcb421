"""Every shell command the README and docs/ show either runs here as written (in a
shortened form where it trains), or, where another test runs its whole path
end to end, is parsed by its tool's own parser with the files it names
checked, or is listed below with what it needs that a test machine lacks; the
README cannot drift from the tools."""
import glob
import importlib.util
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess

import pytest
from helpers import REPO, free_port, tool_env
from mmengine.config import Config

# What a command needs that the test cannot have: data sets, weights,
# checkpoints of a real run, a GPU build, or minutes of the full demo/suite.
NEEDS = {
    'data/VOCdevkit': 'PASCAL VOC', 'data/coco2014': 'COCO 2014',
    'ViT-B_16.npz': 'pretrained weights', 'model.safetensors': 'pretrained weights',
    'iter_10000.pth': 'a trained ViT-B/16 checkpoint', 'apc_vitb16_voc.py': 'PASCAL VOC',
    'pip install': 'the GPU install', 'make mmcv': 'the GPU install',
    'make demo': 'the full demo (minutes; tools/demo.py runs shortened in test_apis)',
    'make test': 'the suite itself',
    'TORCH_CUDA=': "another torch build (PyTorch's index, downloads)",
    'clean-venv': 'removing the environment the test runs in',
    'make wheelhouse': 'downloads (3 GB of wheels)', 'WHEELS=': 'a wheelhouse (make wheelhouse)',
}
# Commands whose path another test runs end to end (named here): parsed by the
# tool's own parser after the others ran, the config and checkpoint checked.
PARSED = {
    'dist_test.sh': 'test_train_test.py::test_dist_test_with_out_show_dir_and_tta',
    'CRFIoUMetric': 'test_crf_iou_metric.py::test_dist_test_with_the_crf_metric',
    'benchmark.py': 'test_benchmark.py::test_runs_every_part_and_reports_consistent_ratios',
    'tools/demo.py': 'test_pseudo_masks.py::test_demo_end_to_end_shortened_with_two_seeds',
    'make gpu-check': 'test_gpu_check.py (and gpu_check.py, run below)',
    'pretrain_demo_vit.py': 'test_pretrain_demo_vit.py::test_the_tool_writes_what_the_demo_loads',
}
# Shortened training: a few iterations of a small batch (the checkpoint names follow).
SHORT = {'iter_3000.pth': 'iter_2.pth'}
TRAIN_OPTIONS = ('--cfg-options train_cfg.max_iters=2 train_cfg.val_interval=2 '
                 'default_hooks.checkpoint.interval=2 global_batch_size=2 '
                 'train_dataloader.num_workers=0 train_dataloader.persistent_workers=False')


# The pages whose commands run, in the order they run (the demo's block makes
# the data and checkpoint that later pages' commands use), then every other page.
PAGES = ['README.md'] + [f'docs/{name}.md' for name in (
    'demo', 'install', 'data', 'training', 'pseudo_masks', 'inference', 'reproducibility',
    'layout')]


def pages():
    others = sorted(osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))
    return PAGES + [p for p in others if p not in PAGES]


def readme_commands():
    """The ```bash blocks of the README and docs/ as commands (continuations
    joined, comments cut)."""
    text = '\n'.join(open(osp.join(REPO, page)).read() for page in pages())
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split('  #')[0].strip()
            if line and not line.startswith('#'):
                commands.append(re.sub(r'\s+', ' ', line))
    return commands


def runnable(command):
    return not any(key in command for key in NEEDS)


def parsed_only(command):
    return any(key in command for key in PARSED)


def parse_with_its_tool(command):
    """The command's arguments as its tool's ``parse_args`` reads them (a
    ``dist_*.sh`` wrapper's as the tool it launches); ``make`` targets by
    ``make -n``."""
    if command.startswith('make '):
        proc = subprocess.run(['make', '-n', *command.split()[1:]], cwd=REPO,
                              capture_output=True, text=True)
        assert proc.returncode == 0 and 'gpu_check.py' in proc.stdout, proc.stderr
        return None
    words = shlex.split(command)
    words = words[1:] if words[0] == 'python' else words
    script, argv = words[0], words[1:]
    if script.endswith('.sh'):  # CONFIG [CHECKPOINT] GPUS ARGS -> the tool's own
        tool = script.replace('dist_', '').replace('.sh', '.py')
        gpus = 2 if 'test' in tool else 1
        script, argv = tool, argv[:gpus] + ['--launcher', 'pytorch'] + argv[gpus + 1:]
    spec = importlib.util.spec_from_file_location('readme_tool', osp.join(REPO, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args(argv)


def shortened(command):
    for long, short in SHORT.items():
        command = command.replace(long, short)
    if 'make_demo_data.py' in command:
        command += ' --num-train 12 --num-val 3'
    if 'dist_train.sh' in command or 'tools/train.py' in command:
        command += ' ' + TRAIN_OPTIONS
    if 'leak_probe.py' in command:
        command += ' --num-test 4'
    if 'tools/demo.py' in command:
        command += ' --iters 2 --workers 1'  # on the data of the block's first line
    return command.replace('val_00200.jpg', 'val_00012.jpg')


def test_the_readme_shows_commands_of_both_kinds():
    commands = readme_commands()
    assert len([c for c in commands if runnable(c)]) >= 8
    assert len([c for c in commands if not runnable(c)]) >= 8


def test_runnable_readme_commands_run_as_written(tmp_path, monkeypatch, converted_lite0):
    """Run in a scratch folder that sees the repository's configs, tools,
    packages (the lab's pretrained demo ViT), the converted ImageNet weights
    (pretrain/, as `make demo` makes them) and venv, so data/ and work_dirs/ land
    there; `make` runs in the repository. CPU only (on a GPU machine `make
    gpu-check` is its own check). Then the commands in PARSED are parsed, the
    files they name found."""
    for name in ('configs', 'tools', 'apc_mmseg', 'apc_lab', '.venv'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    (tmp_path / 'pretrain').mkdir()  # a copy: the docs' converter command rewrites it
    shutil.copy(converted_lite0, tmp_path / 'pretrain')
    env = tool_env()
    env['CUDA_VISIBLE_DEVICES'] = ''
    env['PORT'] = str(free_port())
    commands = list(filter(runnable, readme_commands()))
    ran = []
    for command in [c for c in commands if not parsed_only(c)]:
        cwd = REPO if command.startswith('make ') else tmp_path
        line = shortened(command)
        proc = subprocess.run(['bash', '-c', f'set -e; source .venv/bin/activate; {line}'],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f'README command failed: {line}\n' \
            f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
        ran.append((command, proc.stdout + proc.stderr))
    assert any('no CUDA device is visible' in text for c, text in ran if 'gpu_check' in c)
    assert os.listdir(tmp_path / 'work_dirs/demo_2ranks/preds')
    assert osp.isfile(tmp_path / 'work_dirs/demo_2ranks/pseudo/pseudo_masks.json')
    parsed = [c for c in commands if parsed_only(c)]
    assert len(ran) + len(parsed) == len(commands)
    assert all(any(key in c for c in parsed) for key in PARSED)
    monkeypatch.chdir(tmp_path)
    for command in parsed:
        args = parse_with_its_tool(shortened(command))
        if args is None:
            continue
        config = getattr(args, 'config', None) or 'configs/apc/apc_demo_cpu.py'
        Config.fromfile(config)
        if getattr(args, 'checkpoint', None):
            assert osp.isfile(args.checkpoint), f'{command}: no {args.checkpoint}'


@pytest.mark.parametrize('command', [c for c in readme_commands() if not runnable(c)])
def test_commands_that_need_data_name_tools_that_exist(command):
    """Commands that cannot run here still name real files and flags."""
    for path in re.findall(r'(?:tools|configs)/[\w/.-]+\.(?:py|sh)', command):
        assert osp.isfile(osp.join(REPO, path)), f'{path} (in: {command})'
        if path.startswith('tools/') and not command.startswith(('python', 'pip')):
            assert os.access(osp.join(REPO, path), os.X_OK), f'{path} is not executable'
