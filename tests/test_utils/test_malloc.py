import os
import subprocess
import sys
import textwrap

# mallinfo2().hblkhd: bytes that glibc holds in mmap'ed blocks.
PROBE = textwrap.dedent('''
    import ctypes
    import importlib.util
    # malloc.py alone (ctypes and os): the probe is about malloc, not the
    # package's seconds-long import
    spec = importlib.util.spec_from_file_location('malloc', {path!r})
    malloc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(malloc)
    keep_freed_memory = malloc.keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
            'fsmblks', 'uordblks', 'fordblks', 'keepcost')]

    libc = ctypes.CDLL('libc.so.6')
    libc.mallinfo2.restype = MallInfo2
    tuned = keep_freed_memory() if {tune} else False
    before = libc.mallinfo2().hblkhd
    block = bytearray(20 << 20)  # a 20 MiB block, as a step's activations
    print(tuned, libc.mallinfo2().hblkhd - before)
''')


def probe(repo_root, tune, env=None):
    code = PROBE.format(path=os.path.join(repo_root, 'apc_mmseg/utils/malloc.py'), tune=tune)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    return out[0] == 'True', int(out[1])


def test_large_blocks_come_from_the_heap_once_tuned(repo_root):
    assert probe(repo_root, tune=False)[1] >= 20 << 20  # glibc's default: mmap
    tuned, mmapped = probe(repo_root, tune=True)
    assert tuned and mmapped == 0


def test_env_switch_leaves_malloc_alone(repo_root):
    env = dict(os.environ, APC_MMSEG_TUNE_MALLOC='0')
    tuned, mmapped = probe(repo_root, tune=True, env=env)
    assert not tuned and mmapped >= 20 << 20
