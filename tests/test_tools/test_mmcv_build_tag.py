"""The mmcv wheel cache is keyed by what a wheel was built for, so a CPU
build is never installed where CUDA ops are asked for."""
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO

SCRIPT = 'tools/misc/mmcv_build_tag.py'  # runs before mmcv exists: not in the package


PY = f'py{sys.version_info.major}{sys.version_info.minor}'
CU128_ARCHS = 'sm70_75_80_86_89_90_100_120ptx'  # the default list for CUDA 12.8


def tag_for(torch_version, cuda, gpu, force_cuda='', arch_list=''):
    """The script's tag for a hypothetical machine (``--assume``)."""
    env = dict(os.environ, FORCE_CUDA=force_cuda, TORCH_CUDA_ARCH_LIST=arch_list)
    proc = subprocess.run([sys.executable, SCRIPT, '--assume', torch_version, cuda or 'none',
                           '1' if gpu else '0'], cwd=REPO, capture_output=True, text=True,
                          env=env)
    if proc.returncode:
        raise ValueError(proc.stderr)
    return proc.stdout.strip()


@pytest.mark.parametrize('cuda,visible,force,want', [
    ('12.8', True, '', f'torch2.14.1-cu128-{CU128_ARCHS}-{PY}'),  # a GPU: CUDA ops by default
    ('12.8', False, '', f'torch2.14.1-cpu-{PY}'),     # CUDA torch on a CPU host
    ('12.8', False, '1', f'torch2.14.1-cu128-{CU128_ARCHS}-{PY}'),  # build node without a GPU
    ('12.8', True, '0', f'torch2.14.1-cpu-{PY}'),     # CPU ops asked for on a GPU host
    (None, False, '', f'torch2.14.1-cpu-{PY}'),
])
def test_tag_says_what_the_wheel_is_for(cuda, visible, force, want):
    assert tag_for('2.14.1+cu128', cuda, visible, force) == want


def test_the_arch_list_is_part_of_the_tag_and_cuda_13_drops_volta():
    assert tag_for('2.14.1', '12.8', False, '1', arch_list='8.0;9.0') == \
        f'torch2.14.1-cu128-sm80_90-{PY}'
    assert '-sm75_80_86_89_90_100_120ptx-' in tag_for('2.14.1', '13.0', False, '1')


def test_a_cuda_build_without_a_gpu_gets_an_arch_list(tmp_path):
    """torch's extension builder fails (IndexError in _get_cuda_arch_flags)
    when FORCE_CUDA=1 meets no GPU and no TORCH_CUDA_ARCH_LIST: the Makefile
    passes the script's list."""
    import torch
    env = dict(os.environ, FORCE_CUDA='1', CUDA_VISIBLE_DEVICES='', TORCH_CUDA_ARCH_LIST='')
    proc = subprocess.run([sys.executable, SCRIPT, '--arch-list'], cwd=REPO, env=env,
                          capture_output=True, text=True)
    if torch.version.cuda is None:
        assert proc.returncode == 2 and 'CPU build' in proc.stderr
        return
    archs = proc.stdout.strip().split(';')
    assert proc.returncode == 0 and len(archs) >= 5 and archs[-1].endswith('+PTX'), proc
    assert '8.0' in archs and '9.0' in archs
    env['FORCE_CUDA'] = '0'
    cpu = subprocess.run([sys.executable, SCRIPT, '--arch-list'], cwd=REPO, env=env,
                         capture_output=True, text=True)
    assert cpu.returncode == 0 and cpu.stdout.strip() == ''


def test_a_torch_of_another_cuda_variant_is_refused():
    import torch
    have = 'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu'
    other = 'cu118' if have != 'cu118' else 'cu126'

    def check(variant):
        return subprocess.run([sys.executable, SCRIPT, '--check-torch', variant], cwd=REPO,
                              capture_output=True, text=True)
    assert check(have).returncode == 0 and check('').returncode == 0
    proc = check(other)
    assert proc.returncode == 2 and f'TORCH_CUDA={other}' in proc.stderr \
        and 'make clean-venv' in proc.stderr


def test_cuda_request_with_a_cpu_torch_is_refused():
    with pytest.raises(ValueError, match='CPU build'):
        tag_for('2.14.1+cpu', None, False, '1')


FAKE_PIP = textwrap.dedent('''\
    import os, sys, tarfile, io
    args = sys.argv[1:]
    with open(os.environ['PIP_LOG'], 'a') as log:
        log.write(' '.join(args) + ' FORCE_CUDA=' + os.environ.get('FORCE_CUDA', '-')
                  + ' ARCHS=' + os.environ.get('TORCH_CUDA_ARCH_LIST', '-')
                  + ' MAX_JOBS=' + os.environ.get('MAX_JOBS', '-')
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
    env.pop('TORCH_CUDA_ARCH_LIST', None)
    env.pop('MAX_JOBS', None)
    cmd = ['make', '--no-print-directory', 'mmcv', f'PY={sys.executable}',
           f'PIP={sys.executable} {fake}', f'WHEELHOUSE={tmp_path / "wheels"}']
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
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
    # no GPU here: the default architectures, and every core
    archs = subprocess.run([sys.executable, SCRIPT, '--arch-list'], cwd=REPO, text=True,
                           capture_output=True, env=dict(os.environ, FORCE_CUDA='1')).stdout
    cores = len(os.sched_getaffinity(0))
    assert f' ARCHS={archs.strip()} ' in log[1] and f' MAX_JOBS={cores} ' in log[1]
    assert log[2].startswith('install') and f'/{cuda_tag}/mmcv-2.1.0-' in log[2], log
    assert not any(f'-cpu-{PY}/' in line for line in log if line.startswith('install'))
    # The mmcv of this environment has CPU ops only: the final check says so.
    if proc.returncode != 0:
        assert 'built for CPU only' in proc.stderr, proc.stderr


def test_cpu_request_reuses_the_cached_cpu_wheel_and_hides_gpus_when_building(tmp_path):
    proc, log = make_mmcv(tmp_path, force_cuda='0')
    assert log[1].startswith('wheel') and 'FORCE_CUDA=0 ARCHS=- ' in log[1] \
        and log[1].endswith('CUDA_VISIBLE_DEVICES='), log
    (tmp_path / 'pip.log').unlink()
    proc, log = make_mmcv(tmp_path, force_cuda='0')
    assert [line.split()[0] for line in log] == ['install'], log  # no second build
    assert f'-cpu-{PY}/mmcv-2.1.0-' in log[0]


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
