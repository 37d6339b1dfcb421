"""What the tests share: paths, the device list, tiny configs and batches,
running the tools in this process (``call_tool``) or as processes (``run``,
where the process is the point: launchers, ranks, signals, the environment
a tool starts with). Fixtures are in conftest.py."""
import contextlib
import fcntl
import functools
import importlib.machinery
import importlib.util
import io
import logging
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO, 'configs/apc/apc_demo_cpu.py')
# The key tests run on every device this machine has: `cpu` always, `cuda`
# when present, so the same suite is the GPU check (`make gpu-check`).
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def device_env(device):
    """Environment for a tool run on ``device`` (CPU: GPUs hidden)."""
    env = tool_env()
    if device.type == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    else:
        env.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')  # deterministic cuBLAS
    return env


def load_tool(path: str):
    """A tool under tools/ as a module (tools are scripts, not a package)."""
    name = osp.splitext(osp.basename(path))[0] + '_tool'
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


# Process-wide switches a run may turn (mmengine's randomness and env_cfg, APCRunner's
# TF32, the lab's fix_numerics).
_TORCH_FLAGS = ((torch.backends.cudnn, 'benchmark'), (torch.backends.cudnn, 'deterministic'),
                (torch.backends.cudnn, 'allow_tf32'), (torch.backends.cuda.matmul, 'allow_tf32'),
                (torch.backends.mkldnn, 'enabled'))


def call_tool(path: str, argv, env=None) -> str:
    """``load_tool(path).main(argv)`` in this process, for a tool run once where
    the process is not the point; returns what it printed and logged (stdout,
    stderr, mmengine's loggers: what ``run`` returns of a process). An error
    is raised as the tool raised it (its output printed, for the report).
    ``env``: variables set for the call. The working folder is REPO, as for
    ``run``; the process is left as it was: the environment, the working
    folder, signal handlers, torch's threads and switches. mmengine's global
    instances (loggers, message hubs, visualizers, scopes) are set aside for
    the call, which starts without any as a process would, and put back
    after it (a runner would otherwise get an earlier one of the same name,
    with that one's files: names are the second a runner started, and
    mmseg's visualizer is always ``visualizer``).
    glibc's malloc is left alone (``APC_MMSEG_TUNE_MALLOC=0`` unless ``env``
    says otherwise). What a process reads as it starts cannot be set here: a
    GPU hidden by ``CUDA_VISIBLE_DEVICES``, the kernels ``pin_isa`` picks; such
    runs, and runs compared with a process's numbers, are processes."""
    from mmengine.logging import MMLogger
    from mmengine.utils import ManagerMixin

    def managers(cls=ManagerMixin):
        yield cls
        for sub in cls.__subclasses__():
            yield from managers(sub)
    instances = {cls: cls._instance_dict.copy() for cls in managers()}
    for cls in instances:
        cls._instance_dict.clear()
    saved_env, cwd = dict(os.environ), os.getcwd()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    threads, flags = torch.get_num_threads(), [getattr(m, a) for m, a in _TORCH_FLAGS]
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    out = io.StringIO()
    try:
        os.environ.update({'APC_MMSEG_TUNE_MALLOC': '0', **(env or {})})
        os.chdir(REPO)
        tool = load_tool(path)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            # the current logger until the tool makes its own, writing to ``out``
            MMLogger.get_instance('call_tool')
            tool.main([str(word) for word in argv])
    except BaseException:
        print(out.getvalue())
        raise
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(cwd)
        for sig, handler in handlers.items():
            if handler is not None:  # None: not set from Python
                signal.signal(sig, handler)
        torch.set_num_threads(threads)
        for (module, attr), value in zip(_TORCH_FLAGS, flags):
            setattr(module, attr, value)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        for cls in managers():
            for instance in cls._instance_dict.values():
                if isinstance(instance, MMLogger):
                    for handler in instance.handlers:
                        handler.close()
            cls._instance_dict.clear()
            cls._instance_dict.update(instances.get(cls, {}))
    return out.getvalue()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, env, timeout=600):
    proc = run_process(cmd, env, timeout)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'
    return proc.stdout + proc.stderr


def run_process(cmd, env, timeout=600):
    """``subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)``."""
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@functools.lru_cache(maxsize=None)
def demo_data_root_keys():
    """The demo config's data-root keys (``data_root_options``), read once."""
    from apc_mmseg.datasets import data_root_options
    return tuple(data_root_options(Config.fromfile(DEMO_CONFIG), ''))


def tiny_cfg_options(data_root, max_iters=4):
    """Overrides that shrink configs/apc/apc_demo_cpu.py to a seconds-long run."""
    return {
        **{key: data_root for key in demo_data_root_keys()},
        'global_batch_size': 2,  # 1 process x 2, or 2 x 1
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'model.data_preprocessor.size': (64, 64),
        'model.test_cfg.size': (64, 64),
        'train_dataloader.dataset.pipeline.2.scale': (64, 64),
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'default_hooks.checkpoint.interval': max_iters,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }


def cfg_options_argv(options):
    """``--cfg-options`` words for the command line tools."""
    words = []
    for k, v in options.items():
        if isinstance(v, tuple):
            v = '(' + ','.join(str(x) for x in v) + ')'
        elif isinstance(v, dict):
            v = 'dict(' + ','.join(f'{a}={b}' for a, b in v.items()) + ')'
        words.append(f'{k}={v}')
    return ['--cfg-options'] + words


@contextlib.contextmanager
def mmlogger_records():
    """The records mmengine's current logger gets inside the block."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def tool_env():
    env = dict(os.environ)
    # the repository, and tests/ for the helper scripts run as processes
    env['PYTHONPATH'] = os.pathsep.join([REPO, osp.join(REPO, 'tests'),
                                         env.get('PYTHONPATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def load_config(path):
    """``Config.fromfile`` without yapf's formatting of every dump (mmengine
    0.10.7's fromfile drops its own ``format_python_code`` argument); the
    formatting is most of a short run's time (the runner dumps the config into
    the log, the work dir and every checkpoint)."""
    cfg = Config.fromfile(path)
    return Config(cfg.to_dict(), cfg_text=cfg.text, filename=cfg.filename,
                  format_python_code=False)


def tiny_model_cfg(**test_cfg):
    cfg = Config.fromfile(osp.join(REPO, 'configs/apc/apc_demo_cpu.py')).model
    cfg.data_preprocessor.size = (32, 32)
    cfg.backbone = dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8,
                        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                  feedforward_channels=64),
                        out_indices=(0, 1), out_type='featmap')
    cfg.neck.in_channels = 32
    cfg.weak_head.in_channels = 32
    cfg.decode_head.update(in_channels=[32, 32], in_index=[0, 1], channels=16,
                           norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    cfg.test_cfg.update(size=(32, 32), **test_cfg)
    return cfg


def batch(n=2, size=(32, 32), labels=((1, 1, 0, 0), (1, 0, 1, 1)), ori=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, *size), generator=g, dtype=torch.uint8) for _ in range(n)]
    samples = []
    for i in range(n):
        ds = SegDataSample(metainfo=dict(img_shape=size, ori_shape=ori or size,
                                         pad_shape=size, padding_size=[0, 0, 0, 0]))
        ds.gt_image_labels = torch.tensor(labels[i], dtype=torch.float32)
        ds.gt_sem_seg = PixelData(data=torch.zeros(1, *(ori or size), dtype=torch.long))
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def build_once(tmp_path_factory, name, make):
    """``make(folder)`` once per test run, even under pytest-xdist, whose
    workers each build their own session and module fixtures: the workers
    share the run's folder, and a lock lets the first one build while the
    others wait and reuse (a tool run saved is seconds of CPU). Returns the
    folder (a ``pathlib.Path``)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent  # this run's folder, above the workers' own
    folder = base / f'shared_{name}'
    with open(f'{folder}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / '.built').exists():
            shutil.rmtree(folder, ignore_errors=True)  # a failed attempt's leftovers
            folder.mkdir()
            make(folder)
            (folder / '.built').touch()
    return folder


def recorded(events: list, name: str, fn):
    """``fn`` that first appends ``name`` to ``events`` (to count calls, such
    as a tensor's host reads, in the order they happen)."""
    def wrapped(*args, **kwargs):
        events.append(name)
        return fn(*args, **kwargs)
    return wrapped


# `make install` puts timm here, off the import path (the Makefile says why).
TIMM_DIR = osp.join(sys.prefix, 'reference')


def reference_timm():
    """timm from TIMM_DIR, found there by its spec (the import path stays as
    it is); its own ``timm.*`` imports resolve through the package's path."""
    if 'timm' not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec('timm', [TIMM_DIR])
        assert spec is not None, f'timm is not in {TIMM_DIR}: run make install'
        module = importlib.util.module_from_spec(spec)
        sys.modules['timm'] = module
        spec.loader.exec_module(module)
    return sys.modules['timm']


# The patch contrast's hand-computable case: four patches on a 2x2 grid with
# 2-D embeddings of known cosines (c01=0.6, c02=0, c03=-1, c12=0.8, c13=-0.6,
# c23=0) and their foreground scores; background is 1 - foreground.
PCL_Z = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
PCL_FG = torch.tensor([0.88, 0.95, 0.05, 0.5], dtype=torch.float64)


def pcl_inputs(labels=(1.0, 1.0)):
    """``(embeddings [1, 2, 2, 2], probs [1, 2, 2, 2], image_labels [1, 2])``."""
    emb = PCL_Z.t().reshape(1, 2, 2, 2).clone()
    probs = torch.stack([1 - PCL_FG, PCL_FG]).reshape(1, 2, 2, 2)
    return emb, probs, torch.tensor([labels], dtype=torch.float64)


def pcl_similarity(c):
    """s' = (1 + cos) / 2, clamped to [eps, 1 - eps] as the loss does."""
    return min(max((1 + c) / 2, 1e-6), 1 - 1e-6)
