"""Starts the emulated KFP tasks' processes by forking one interpreter that has imported their entry points (tests only).

A pod starts a fresh interpreter, which spends about 7 s of CPU importing TensorFlow and TFX before the step's
work (a few seconds for the small corpora of the tests). The emulation runs some sixty steps, so this process,
started once with a task's environment and working directory, imports the modules a step's command imports first,
in the same order, and then forks a child per step: the child changes to the step's working directory, takes its
arguments and runs the command's module as ``__main__``, exactly as ``python -m MODULE ARGS`` would from there.
Every child is forked from this untouched parent, so nothing of one step reaches another. (The parent holds a
few native threads after the imports, TensorFlow's among them, and no lock of theirs that a child would need:
a child starts its work in the thread that forked it, as ``multiprocessing``'s fork does.) The one difference
from ``python -m``: ``sys.path[0]`` is this script's folder, not the working directory, which holds nothing.
The parent ends when the process that started it does.

Protocol, over a Unix socket: one JSON line ``{"argv": [...], "cwd": ..., "log": ...}`` per connection, answered
with one JSON line ``{"status": N}`` once the child has exited (its stdout and stderr are in ``log``).

    python task_zygote.py SOCKET_PATH
"""

import json
import os
import runpy
import select
import socket
import sys
import traceback

# What `python -m pipeline.runners.kfp_container executor|probe` imports before its work, in that order.
PRELOAD = ("google.protobuf.json_format", "absl.app",
           "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
           "components.example_gen.executor", "components.served_model.served", "pipeline.runners.kfp_container")


def _run_child(request, inherited) -> None:
    """In the forked child: the command's module as ``__main__``; never returns."""
    status = 1
    try:
        for connection in inherited:  # the other steps' connections
            connection.close()
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        argv = request["argv"]
        if argv[1:2] != ["-m"]:
            raise ValueError(f"only `python -m MODULE ...` commands are forked, not {argv[:3]}")
        sys.argv = [argv[2], *argv[3:]]
        try:
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # pylint: disable=protected-access


def main(socket_path: str) -> None:
    for module in PRELOAD:
        __import__(module)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    print("ready", flush=True)
    parent = os.getppid()
    waiting = {}  # child pid -> connection
    while os.getppid() == parent:
        readable, _, _ = select.select([server], [], [], 0.05)
        if readable:
            connection, _ = server.accept()
            request = json.loads(connection.makefile("r").readline())
            pid = os.fork()
            if pid == 0:
                server.close()
                _run_child(request, list(waiting.values()))
            waiting[pid] = connection
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = waiting.pop(pid)
            connection.sendall((json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n").encode())
            connection.close()


if __name__ == "__main__":
    main(sys.argv[1])
