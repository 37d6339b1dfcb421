"""A process that has imported what every tool imports, and forks a child for
each tool run the tests ask of it (``helpers.run``).

A tool started as a new process spends ~5 s of CPU importing torch, mmseg
and the package before it does anything; the suite starts dozens. A child
forked from this process starts with those modules loaded, and is otherwise
the same process a fresh interpreter would be: its own environment, working
folder, arguments, standard streams and exit status. It never ran a test:
nothing a test patched or registered is in it.

Protocol, one JSON object a line: the client sends ``{"argv", "env", "cwd",
"stdout", "stderr"}`` (argv without the interpreter: a script and its
arguments, or ``-c CODE ...``); the zygote answers ``{"pid"}`` when the
child starts and ``{"returncode"}`` when it ends.
"""
import json
import os
import runpy
import sys
import threading
import types


def preload():
    # The libraries every tool imports first, and none of this repository's
    # code: the package and the lab register themselves in each child as in
    # a fresh process, so a tool that forgets an import still fails here.
    import mmseg.models  # noqa: F401
    import torch  # noqa: F401


def child(request: dict) -> int:
    """Become the tool: run it as ``__main__`` and return its exit status."""
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, request['stdout'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, request['stderr'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(path, flags, 0o666)  # the umask applies, as for a shell's redirection
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    argv = request['argv']
    # The interpreter would put the script's folder (or '' for -c) first,
    # then PYTHONPATH, in front of the standard library's path.
    paths = [p for p in request['env'].get('PYTHONPATH', '').split(os.pathsep) if p]
    if argv[0] == '-c':
        sys.argv = ['-c', *argv[2:]]
        sys.path[:] = ['', *paths, *sys.path[1:]]
        code = compile(argv[1], '<string>', 'exec')
        main = types.ModuleType('__main__')  # no __file__, as `python -c` has
        sys.modules['__main__'] = main
        run = lambda: exec(code, main.__dict__)  # noqa: E731
    else:
        script = os.path.abspath(argv[0])
        sys.argv = list(argv)
        sys.path[:] = [os.path.dirname(script), *paths, *sys.path[1:]]
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
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def serve():
    answers = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)  # anything the imports print stays out of the answers
    preload()
    sys.path.pop(0)  # this file's folder: the children set their own path
    base_path = list(sys.path)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            sys.stdin.close()
            sys.path[:] = ['', *base_path]
            os._exit(finish(child(request)))
        answers.write(json.dumps(dict(pid=pid)) + '\n')
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps(dict(returncode=os.waitstatus_to_exitcode(status))) + '\n')
        answers.flush()


if __name__ == '__main__':
    serve()
