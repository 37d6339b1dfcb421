"""A process that has imported what every tool imports, and forks a child for
each tool run the tests ask of it (``helpers.run``), ranks of multi-process
launches included.

A tool started as a new process spends ~5 s of CPU importing torch, mmseg
and the package before it does anything; the suite starts dozens, and a
2-rank launch starts three (the launcher and two ranks). A child forked
from this process starts with those modules loaded, and is otherwise the
same process a fresh interpreter would be: its own environment, working
folder, arguments, standard streams and exit status. It never ran a test:
nothing a test patched or registered is in it.

Clients reach the zygote through a UNIX socket, one connection a run. The
client sends one JSON line ``{"argv", "env", "cwd"}`` (argv without the
interpreter: interpreter options ``-u``, then a script, ``-c CODE`` or
``-m MODULE``, then the arguments) with its standard streams attached as
file descriptors; the zygote answers ``{"pid"}`` when the child starts and
``{"returncode"}`` when it ends, or ``{"refused": why}`` for a run a fresh
interpreter would start differently (then the client starts one). A client
that goes away takes its child with it (SIGKILL).

Two clients: the tests' own (``helpers.Zygote``) and a stand-in interpreter
(``write_stand_in``), an executable that tools and launchers run where they
would run Python (``PYTHON`` of ``tools/dist_*.sh``, torchrun's
``PYTHON_EXEC``): it forwards the signals it gets to its child and exits as
the child did.
"""
import gc
import io
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import types

# Variables a child may set differently from the zygote: read at run time,
# not when the interpreter or torch start (OMP_*, PYTHONHASHSEED, ... are).
RUN_TIME = {
    'CUDA_VISIBLE_DEVICES', 'PORT', 'PYTHON', 'FORCE_CUDA', 'TORCH_CUDA_ARCH_LIST',
    'PYTEST_CURRENT_TEST',  # pytest's, new for every test
    'PYTHON_EXEC', 'RANK', 'LOCAL_RANK', 'GROUP_RANK', 'ROLE_RANK', 'ROLE_NAME',
    'LOCAL_WORLD_SIZE', 'WORLD_SIZE', 'GROUP_WORLD_SIZE', 'ROLE_WORLD_SIZE',  # torchrun's
    'MAKEFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'MFLAGS', 'MMCV_VERSION', 'PIP_LOG',  # make's
    '_',  # a shell's last command: bash changes or drops it in what it starts
}
RUN_TIME_PREFIXES = ('MASTER_', 'APC_', 'TORCHELASTIC_', 'TORCH_NCCL_')
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
           signal.SIGUSR2)


def preload():
    # The libraries every tool imports first, and none of this repository's
    # code: the package and the lab register themselves in each child as in
    # a fresh process, so a tool that forgets an import still fails here.
    import mmseg.models  # noqa: F401
    import torch  # noqa: F401
    # What the imports made, out of the collector's reach in every child (a
    # fresh interpreter's collections walk only its own few objects; here
    # mmengine's gc.collect() per data set would walk all of it).
    gc.collect()
    gc.freeze()


def paths(env: dict) -> list:
    return [os.path.normpath(p) for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]


def start_differs(env: dict, start: dict):
    """Why a fresh interpreter with ``env`` would start differently from one
    with ``start`` (the zygote's), or None. ``PYTHONPATH`` may name fewer of
    the zygote's folders, never another (a ``sitecustomize`` there would run
    at start-up; the child's path is its own either way)."""
    if not set(paths(env)) <= set(paths(start)):
        return f'PYTHONPATH {env.get("PYTHONPATH")!r}'
    for key in sorted(set(env) | set(start)):
        if key != 'PYTHONPATH' and key not in RUN_TIME \
                and not key.startswith(RUN_TIME_PREFIXES) and env.get(key) != start.get(key):
            return f'{key}={env.get(key)!r}'
    return None


def parse_argv(argv: list):
    """``(unbuffered, kind, target, args)`` of an interpreter's argv (without
    the interpreter), kind ``script``, ``-c`` or ``-m``; None for options
    this zygote does not emulate."""
    unbuffered = False
    while argv and argv[0] == '-u':
        unbuffered, argv = True, argv[1:]
    if len(argv) >= 2 and argv[0] in ('-c', '-m'):
        return unbuffered, argv[0], argv[1], argv[2:]
    if argv and not argv[0].startswith('-'):
        return unbuffered, 'script', argv[0], argv[1:]
    return None


def refusal(request: dict, start: dict):
    """Why the zygote will not run ``request``, or None."""
    if parse_argv(request['argv']) is None:
        return f'interpreter options {request["argv"][:2]}'
    return start_differs(request['env'], start)


def standard_streams(fds: list, unbuffered: bool):
    """The child's 0, 1, 2 become the client's; Python's streams are made
    anew over them, buffered as a fresh interpreter would buffer them."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, 'r', closefd=False)))

    def writer(fd, line_buffering):
        raw = io.FileIO(fd, 'w', closefd=False)
        if unbuffered:
            return io.TextIOWrapper(raw, write_through=True, errors='backslashreplace')
        tty = raw.isatty()
        return io.TextIOWrapper(io.BufferedWriter(raw), line_buffering=tty or line_buffering,
                                errors='backslashreplace' if fd == 2 else 'strict')
    sys.stdout, sys.stderr = writer(1, False), writer(2, True)  # stderr: line-buffered


def child(request: dict, fds: list, base_path: list) -> int:
    """Become the tool: run it as ``__main__`` and return its exit status."""
    unbuffered, kind, target, args = parse_argv(request['argv'])
    standard_streams(fds, unbuffered)
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    # The interpreter puts the script's folder (or '' for -c, the working
    # folder for -m) first, then PYTHONPATH, in front of the standard library.
    extra = [p for p in request['env'].get('PYTHONPATH', '').split(os.pathsep) if p]
    base_path = [p for p in base_path if p not in extra]
    if kind == '-c':
        sys.argv = ['-c', *args]
        sys.path[:] = ['', *extra, *base_path]
        code = compile(target, '<string>', 'exec')
        main = types.ModuleType('__main__')  # no __file__, as `python -c` has
        sys.modules['__main__'] = main
        run = lambda: exec(code, main.__dict__)  # noqa: E731
    elif kind == '-m':
        sys.argv = [target, *args]  # run_module puts the module's file first
        sys.path[:] = [os.getcwd(), *extra, *base_path]
        run = lambda: runpy.run_module(target, run_name='__main__', alter_sys=True)  # noqa: E731
    else:
        script = os.path.abspath(target)
        sys.argv = [target, *args]
        sys.path[:] = [os.path.dirname(script), *extra, *base_path]
        run = lambda: runpy.run_path(script, run_name='__main__')  # noqa: E731
    try:
        run()
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    return status


def finish(status: int) -> int:
    """What an interpreter does on its way out: wait for non-daemon threads,
    run the exit handlers (logging's flush, multiprocessing's clean-up)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return status


def send(conn: socket.socket, message: dict):
    try:
        conn.sendall(json.dumps(message).encode() + b'\n')
    except OSError:
        pass  # the client went away; its child is killed below


def receive(conn: socket.socket):
    """One JSON line and the file descriptors that came with it."""
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    while data and not data.endswith(b'\n'):
        more = conn.recv(1 << 16)
        if not more:
            break
        data += more
    return (json.loads(data) if data.endswith(b'\n') else None), fds


def interpreter_path() -> list:
    """``sys.path`` of this interpreter started without ``PYTHONPATH``, less
    the script's folder: what a child's own ``PYTHONPATH`` goes in front of."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    out = subprocess.run([sys.executable, '-c', 'import json, sys; print(json.dumps(sys.path))'],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)[1:]


class Server:
    """The zygote's loop: accept runs, fork them, report their ends."""

    def __init__(self, path: str, start: dict):
        self.start = start  # the environment before the preload (cv2 edits it)
        self.base_path = interpreter_path()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, 'accept')
        self.selector.register(0, selectors.EVENT_READ, 'control')  # EOF: the tests ended
        self.children = {}  # pid -> the client's connection

    def serve(self):
        while True:
            for key, _ in self.selector.select(timeout=0.02):
                if key.data == 'accept':
                    self.accept()
                elif key.data == 'control':
                    if not os.read(0, 4096):
                        return self.close()
                else:
                    self.client_event(key.fileobj, key.data)
            self.reap()

    def accept(self):
        conn, _ = self.listener.accept()
        conn.settimeout(10)  # a client sends its request at once; one that does not is dropped
        try:
            request, fds = receive(conn)
        except (OSError, ValueError):
            request, fds = None, []
        conn.settimeout(None)
        why = 'no request' if request is None else refusal(request, self.start)
        if why:
            print(f'refused {request and request["argv"][:2]}: {why}', file=sys.stderr,
                  flush=True)  # the log says why a run went to a new interpreter
            for fd in fds:
                os.close(fd)
            send(conn, dict(refused=why))
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            self.listener.close()
            for other in self.children.values():
                other.close()
            conn.close()
            os._exit(finish(child(request, fds, self.base_path)))
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)
        send(conn, dict(pid=pid))

    def client_event(self, conn, pid):
        try:
            gone = not conn.recv(1)
        except OSError:
            gone = True
        if gone:  # the client died or gave up: so does its child
            self.selector.unregister(conn)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            send(conn, dict(returncode=os.waitstatus_to_exitcode(status)))
            try:
                self.selector.unregister(conn)
            except KeyError:
                pass
            conn.close()

    def close(self):
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def connect(path: str, argv: list, env: dict, cwd: str, fds: list):
    """Ask the zygote at ``path`` to run ``argv``; returns the connection, a
    reader of its answers and the first answer (``{"pid"}`` or
    ``{"refused"}``)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    request = json.dumps(dict(argv=argv, env=env, cwd=cwd)).encode() + b'\n'
    socket.send_fds(conn, [request], fds)
    reader = conn.makefile('rb')  # one reader: both answers may come in one read
    return conn, reader, answer(reader)


def answer(reader) -> dict:
    line = reader.readline()
    if not line:
        raise ConnectionError('the tool zygote closed the connection')
    return json.loads(line)


def stand_in(path: str, python: str):
    """The stand-in interpreter's body: run ``sys.argv[1:]`` in the zygote,
    or in ``python`` when the zygote refuses or is gone."""
    argv = sys.argv[1:]
    try:
        conn, reader, first = connect(path, argv, dict(os.environ), os.getcwd(), [0, 1, 2])
    except OSError:
        first = dict(refused='no zygote')
    if 'refused' in first:
        os.execv(python, [python, *argv])
    pid = first['pid']
    for sig in SIGNALS:
        signal.signal(sig, lambda number, frame: os.kill(pid, number))
    code = answer(reader)['returncode']
    if code < 0:  # died of a signal: so does the stand-in, for its parent to see
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def write_stand_in(folder: str, path: str) -> str:
    """An executable ``folder/python`` that runs its arguments in the zygote
    at ``path``: this file run by ``stand_in`` (a few milliseconds of
    start-up: the standard library only)."""
    import shlex
    exe = os.path.join(folder, 'python')
    with open(exe, 'w') as f:
        f.write('#!/bin/sh\n'
                f'exec {shlex.quote(sys.executable)} -I -S {shlex.quote(os.path.abspath(__file__))}'
                f' --stand-in {shlex.quote(path)} "$@"\n')
    os.chmod(exe, 0o755)
    return exe


def main():
    if sys.argv[1] == '--stand-in':
        path = sys.argv[2]
        del sys.argv[1:3]
        return stand_in(path, sys.executable)
    start = dict(os.environ)
    ready = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)  # anything the imports print goes to the log
    preload()
    server = Server(sys.argv[1], start)
    ready.write('ready\n')
    ready.close()
    server.serve()


if __name__ == '__main__':
    main()
