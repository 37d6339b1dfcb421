"""The mmcv wheel cache is keyed by what a wheel was built for, so a CPU
build is never installed where CUDA ops are asked for."""
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, run_process

SCRIPT = 'tools/misc/mmcv_build_tag.py'  # runs before mmcv exists: not in the package


PY = f'py{sys.version_info.major}{sys.version_info.minor}'
CU128_ARCHS = 'sm70_75_80_86_89_90_100_120ptx'  # the default list for CUDA 12.8


def tag_for(torch_version, cuda, force_cuda='', arch_list=''):
    """The script's tag for a hypothetical machine without a GPU (``--assume``)."""
    env = dict(os.environ, FORCE_CUDA=force_cuda, TORCH_CUDA_ARCH_LIST=arch_list)
    proc = subprocess.run([sys.executable, SCRIPT, '--assume', torch_version, cuda or 'none'],
                          cwd=REPO, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise ValueError(proc.stderr)
    return proc.stdout.strip()


@pytest.mark.parametrize('cuda,force,want', [
    ('12.8', '', f'torch2.14.1-cpu-{PY}'),     # CPU ops unless asked for
    ('12.8', '1', f'torch2.14.1-cu128-{CU128_ARCHS}-{PY}'),  # build node without a GPU
    ('12.8', '0', f'torch2.14.1-cpu-{PY}'),
    (None, '', f'torch2.14.1-cpu-{PY}'),
])
def test_tag_says_what_the_wheel_is_for(cuda, force, want):
    assert tag_for('2.14.1+cu128', cuda, force) == want


def test_the_arch_list_is_part_of_the_tag_and_cuda_13_drops_volta():
    assert tag_for('2.14.1', '12.8', '1', arch_list='8.0;9.0') == \
        f'torch2.14.1-cu128-sm80_90-{PY}'
    assert '-sm75_80_86_89_90_100_120ptx-' in tag_for('2.14.1', '13.0', '1')


def test_a_cuda_build_without_a_gpu_gets_an_arch_list(tmp_path):
    """torch's extension builder fails (IndexError in _get_cuda_arch_flags)
    when FORCE_CUDA=1 meets no GPU and no TORCH_CUDA_ARCH_LIST: the Makefile
    passes the script's list."""
    import torch
    env = dict(os.environ, FORCE_CUDA='1', CUDA_VISIBLE_DEVICES='', TORCH_CUDA_ARCH_LIST='')
    proc = run_process([sys.executable, SCRIPT, '--arch-list'], env)
    if torch.version.cuda is None:
        assert proc.returncode == 2 and 'CPU build' in proc.stderr
        return
    archs = proc.stdout.strip().split(';')
    assert proc.returncode == 0 and len(archs) >= 5 and archs[-1].endswith('+PTX'), proc
    assert '8.0' in archs and '9.0' in archs
    env['FORCE_CUDA'] = '0'
    cpu = run_process([sys.executable, SCRIPT, '--arch-list'], env)
    assert cpu.returncode == 0 and cpu.stdout.strip() == ''


def test_a_torch_of_another_cuda_variant_is_refused():
    import torch
    have = 'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu'
    other = 'cu118' if have != 'cu118' else 'cu126'

    def check(variant):
        return run_process([sys.executable, SCRIPT, '--check-torch', variant], dict(os.environ))
    assert check(have).returncode == 0 and check('').returncode == 0
    proc = check(other)
    assert proc.returncode == 2 and f'TORCH_CUDA={other}' in proc.stderr \
        and 'make clean-venv' in proc.stderr


def test_cuda_request_with_a_cpu_torch_is_refused():
    with pytest.raises(ValueError, match='CPU build'):
        tag_for('2.14.1+cpu', None, '1')


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


# Loaded as sitecustomize: torch, once imported, reports a CUDA 12.8 build
# and one visible GPU of compute capability 9.0 (an H100/H200); with
# CUDA_VISIBLE_DEVICES empty, torch is left as it is (the GPU hidden, as the
# driver hides it).
SIMULATED_GPU = textwrap.dedent('''\
    import importlib.abc, importlib.machinery, os, sys

    class PatchTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != 'torch':
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            load = spec.loader.exec_module

            def exec_module(module):
                load(module)
                if os.environ.get('CUDA_VISIBLE_DEVICES') == '':
                    return
                module.version.cuda = '12.8'
                module.cuda.is_available = lambda: True
                module.cuda.device_count = lambda: 1
                module.cuda.get_device_capability = lambda device=None: (9, 0)
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, PatchTorch())
''')


def simulated_gpu_env(tmp_path):
    site = tmp_path / 'simulated_gpu'
    site.mkdir(exist_ok=True)
    (site / 'sitecustomize.py').write_text(SIMULATED_GPU)
    return dict(PYTHONPATH=os.pathsep.join(filter(None, [str(site),
                                                         os.environ.get('PYTHONPATH')])))


def script(*args, **env):
    """The script on this machine (no --assume), as the Makefile runs it."""
    return run_process([sys.executable, SCRIPT, *args], dict(os.environ, **env))


def make_mmcv(tmp_path, force_cuda, extra_env=None, wheels_var='WHEELHOUSE'):
    """``make mmcv`` with a pip that records its calls; the cache folder is
    ``tmp_path/wheels``, given as ``wheels_var`` (``WHEELS``: an offline
    wheelhouse)."""
    fake = tmp_path / 'fake_pip.py'
    fake.write_text(FAKE_PIP)
    env = dict(os.environ, PIP_LOG=str(tmp_path / 'pip.log'), FORCE_CUDA=force_cuda,
               **(extra_env or {}))
    env.pop('TORCH_CUDA_ARCH_LIST', None)
    env.pop('MAX_JOBS', None)
    cmd = ['make', '--no-print-directory', 'mmcv', f'PY={sys.executable}',
           f'PIP={sys.executable} {fake}', f'{wheels_var}={tmp_path / "wheels"}']
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log_file = tmp_path / 'pip.log'
    log = log_file.read_text().splitlines() if log_file.exists() else []
    return proc, log


def test_a_visible_gpu_gets_cpu_ops_unless_cuda_ops_are_asked_for(tmp_path):
    """On a (simulated) sm_90 host: unset FORCE_CUDA builds CPU ops, with no
    nvcc needed; FORCE_CUDA=1 builds for the visible GPU's architecture."""
    env = simulated_gpu_env(tmp_path)
    assert script('--arch-list', FORCE_CUDA='', TORCH_CUDA_ARCH_LIST='', **env).stdout == '\n'
    assert script(FORCE_CUDA='', **env).stdout.strip().endswith(f'-cpu-{PY}')
    cuda = script(FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='', **env)
    assert cuda.stdout.strip().endswith(f'-cu128-sm90-{PY}'), cuda
    assert script('--arch-list', FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='',
                  **env).stdout.strip() == '9.0'


@pytest.mark.parametrize('gpu', [False, True], ids=['no_gpu', 'simulated_sm90'])
def test_cached_cpu_wheel_is_not_installed_for_a_cuda_request(tmp_path, gpu):
    """The expected wheel is the one of the rule the Makefile follows (the
    script on this machine, with a visible GPU's own architecture). Both on
    a (simulated) sm_90 host, whose GPU ``no_gpu`` hides: the default list
    is asserted where no GPU is visible, on a GPU host too (``make
    gpu-check`` runs this on one)."""
    import torch
    env = simulated_gpu_env(tmp_path)
    if not gpu:
        env['CUDA_VISIBLE_DEVICES'] = ''
    cpu_dir = tmp_path / 'wheels' / 'mmcv-2.1.0' / tag_for(torch.__version__, None)
    cpu_dir.mkdir(parents=True)
    (cpu_dir / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_text('cpu build')
    proc, log = make_mmcv(tmp_path, force_cuda='1', extra_env=env)
    if torch.version.cuda is None and not gpu:  # a CPU torch cannot build CUDA ops: refused
        assert proc.returncode != 0 and 'CPU build' in proc.stderr and log == []
        return
    cuda_tag = script(FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='', **env).stdout.strip()
    archs = script('--arch-list', FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='', **env).stdout.strip()
    if gpu:
        assert cuda_tag.endswith(f'-sm90-{PY}') and archs == '9.0'
    else:  # no GPU here: the default architectures
        assert len(archs.split(';')) >= 5 and archs.endswith('+PTX')
    assert log[0].startswith('download'), log
    assert log[1].startswith('wheel') and f'/{cuda_tag} ' in log[1] \
        and 'FORCE_CUDA=1' in log[1], log
    cores = len(os.sched_getaffinity(0))
    assert f' ARCHS={archs} ' in log[1] and f' MAX_JOBS={cores} ' in log[1]
    assert log[2].startswith('install') and f'/{cuda_tag}/mmcv-2.1.0-' in log[2], log
    assert not any(f'-cpu-{PY}/' in line for line in log if line.startswith('install'))
    # The mmcv of this environment has CPU ops only: the final check says so.
    if proc.returncode != 0:
        assert 'built for CPU only' in proc.stderr, proc.stderr


def test_a_gpu_host_builds_cpu_ops_by_default(tmp_path):
    """`make mmcv` with FORCE_CUDA unset on a (simulated) GPU host: CPU ops,
    built with the GPUs hidden."""
    proc, log = make_mmcv(tmp_path, force_cuda='', extra_env=simulated_gpu_env(tmp_path))
    assert log[1].startswith('wheel') and 'FORCE_CUDA=0 ARCHS=- ' in log[1] \
        and log[1].endswith('CUDA_VISIBLE_DEVICES='), log
    assert f'-cpu-{PY}/mmcv-2.1.0-' in log[2]


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


def test_an_offline_wheelhouse_holds_the_mmcv_build(tmp_path):
    """`make install WHEELS=dir` takes mmcv from the wheelhouse's tagged
    folder (as `make wheelhouse` lays it out): installed, nothing downloaded
    or built."""
    import torch
    cpu_dir = tmp_path / 'wheels' / 'mmcv-2.1.0' / tag_for(torch.__version__, None)
    cpu_dir.mkdir(parents=True)
    (cpu_dir / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_text('cpu build')
    proc, log = make_mmcv(tmp_path, force_cuda='', wheels_var='WHEELS')
    assert [line.split()[0] for line in log] == ['install'], log
    assert f'{cpu_dir}/mmcv-2.1.0-' in log[0]


def test_an_offline_install_never_reaches_an_index(tmp_path):
    """Every pip call of `make install WHEELS=dir` (dry run, made to run
    whole) reads that folder alone, even with TORCH_CUDA naming PyTorch's
    index."""
    wheels = tmp_path / 'wheelhouse'
    proc = subprocess.run(['make', '-n', '-B', 'install', f'WHEELS={wheels}', 'TORCH_CUDA=cu126',
                           f'VENV={tmp_path / "venv"}'], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    pip_calls = [line for line in proc.stdout.splitlines() if ' -m pip install' in line]
    assert len(pip_calls) >= 5, proc.stdout
    for line in pip_calls:
        assert f'--no-index --find-links {wheels}' in line, line
    assert 'download.pytorch.org' not in proc.stdout
