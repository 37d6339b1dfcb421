"""The mmcv wheel cache is keyed by what a wheel was built for, so a CPU
build is never installed where CUDA ops are asked for."""
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

SCRIPT = 'tools/misc/mmcv_build_tag.py'  # runs before mmcv exists: not in the package


def tag_for(torch_version, cuda, gpu, force_cuda=''):
    """The script's tag for a hypothetical machine (``--assume``)."""
    proc = subprocess.run([sys.executable, SCRIPT, '--assume', torch_version, cuda or 'none',
                           '1' if gpu else '0'], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, FORCE_CUDA=force_cuda))
    if proc.returncode:
        raise ValueError(proc.stderr)
    return proc.stdout.strip()


@pytest.mark.parametrize('cuda,visible,force,want', [
    ('12.8', True, '', 'torch2.14.1-cu128'),    # a GPU: CUDA ops by default
    ('12.8', False, '', 'torch2.14.1-cpu'),     # CUDA torch on a CPU host
    ('12.8', False, '1', 'torch2.14.1-cu128'),  # cluster build node without a GPU
    ('12.8', True, '0', 'torch2.14.1-cpu'),     # CPU ops asked for on a GPU host
    (None, False, '', 'torch2.14.1-cpu'),
])
def test_tag_says_what_the_wheel_is_for(cuda, visible, force, want):
    assert tag_for('2.14.1+cu128', cuda, visible, force) == want


def test_cuda_request_with_a_cpu_torch_is_refused():
    with pytest.raises(ValueError, match='CPU build'):
        tag_for('2.14.1+cpu', None, False, '1')


FAKE_PIP = textwrap.dedent('''\
    import os, sys, tarfile, io
    args = sys.argv[1:]
    with open(os.environ['PIP_LOG'], 'a') as log:
        log.write(' '.join(args) + ' FORCE_CUDA=' + os.environ.get('FORCE_CUDA', '-')
                  + ' CUDA_VISIBLE_DEVICES=' + os.environ.get('CUDA_VISIBLE_DEVICES', '-')
                  + '\\n')
    if args[0] == 'download':
        dest = args[args.index('-d') + 1]
        with tarfile.open(os.path.join(dest, 'mmcv-2.1.0.tar.gz'), 'w:gz') as tar:
            data = b"flags = ['-std=c++14']\\n"
            info = tarfile.TarInfo('mmcv-2.1.0/setup.py')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    elif args[0] == 'wheel':
        dest = args[args.index('-w') + 1]
        open(os.path.join(dest, 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'), 'w').close()
''')


def make_mmcv(tmp_path, force_cuda):
    fake = tmp_path / 'fake_pip.py'
    fake.write_text(FAKE_PIP)
    env = dict(os.environ, PIP_LOG=str(tmp_path / 'pip.log'), FORCE_CUDA=force_cuda)
    cmd = ['make', '--no-print-directory', 'mmcv', f'PY={sys.executable}',
           f'PIP={sys.executable} {fake}', f'WHEELHOUSE={tmp_path / "wheels"}']
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    log_file = tmp_path / 'pip.log'
    log = log_file.read_text().splitlines() if log_file.exists() else []
    return proc, log


def test_cached_cpu_wheel_is_not_installed_for_a_cuda_request(tmp_path):
    import torch
    cpu_dir = tmp_path / 'wheels' / 'mmcv-2.1.0' / tag_for(torch.__version__, None, False)
    cpu_dir.mkdir(parents=True)
    (cpu_dir / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_text('cpu build')
    proc, log = make_mmcv(tmp_path, force_cuda='1')
    if torch.version.cuda is None:  # a CPU torch cannot build CUDA ops: refused
        assert proc.returncode != 0 and 'CPU build' in proc.stderr and log == []
        return
    cuda_tag = tag_for(torch.__version__, torch.version.cuda, False, '1')
    assert log[0].startswith('download'), log
    assert log[1].startswith('wheel') and f'/{cuda_tag} ' in log[1] \
        and 'FORCE_CUDA=1' in log[1], log
    assert log[2].startswith('install') and f'/{cuda_tag}/mmcv-2.1.0-' in log[2], log
    assert not any('-cpu/' in line for line in log if line.startswith('install'))
    # The mmcv of this environment has CPU ops only: the final check says so.
    if proc.returncode != 0:
        assert 'built for CPU only' in proc.stderr, proc.stderr


def test_cpu_request_reuses_the_cached_cpu_wheel_and_hides_gpus_when_building(tmp_path):
    proc, log = make_mmcv(tmp_path, force_cuda='0')
    assert log[1].startswith('wheel') and 'FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=' in log[1] \
        and log[1].endswith('CUDA_VISIBLE_DEVICES='), log
    (tmp_path / 'pip.log').unlink()
    proc, log = make_mmcv(tmp_path, force_cuda='0')
    assert [line.split()[0] for line in log] == ['install'], log  # no second build
    assert '-cpu/mmcv-2.1.0-' in log[0]


def test_no_verdict_while_mmcvs_own_dependencies_are_missing(tmp_path):
    """Right after `make mmcv` installs the wheel (--no-deps), mmcv cannot be
    imported for lack of opencv/mmengine: the check then waits for
    requirements.txt; the strict check (make install, afterwards) refuses."""
    fake = tmp_path / 'mmcv'
    fake.mkdir()
    (fake / '__init__.py').write_text('import a_dependency_not_installed_yet\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path), FORCE_CUDA='0')

    def check(*flags):
        return subprocess.run([sys.executable, SCRIPT, '--check-installed', *flags], cwd=REPO,
                              env=env, capture_output=True, text=True)
    lenient = check('--allow-missing-deps')
    assert lenient.returncode == 0 and 'is not installed yet' in lenient.stderr
    strict = check()
    assert strict.returncode == 1 and 'a_dependency_not_installed_yet' in strict.stderr
