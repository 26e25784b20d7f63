"""``devops_insights.stack_dump``: SIGUSR1 writes where every thread is, and the process goes on."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

from devops_insights import stack_dump

ROOT = Path(__file__).resolve().parents[2]

# In a child interpreter: a signal handler is for the life of a process, and this one is pytest's.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading
    from devops_insights import stack_dump

    started, release = threading.Event(), threading.Event()

    def waiting_on_purpose():
        started.set()
        release.wait(60)

    worker = threading.Thread(target=waiting_on_purpose)
    worker.start()
    started.wait(60)
    print("installed", stack_dump.install(), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    release.set()
    worker.join(60)
    print("still running", flush=True)
    """
)


def test_it_writes_every_threads_stack_on_sigusr1_and_keeps_running() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["installed True", "still running"]
    # The blocked worker, by its function, and the thread that was running when the signal came.
    assert "waiting_on_purpose" in done.stderr
    assert "Current thread" in done.stderr
    assert done.stderr.count("(most recent call first)") == 2  # the two threads, each once


def test_it_declines_a_stream_without_a_file_descriptor() -> None:
    assert stack_dump.install(io.StringIO()) is False


def test_the_web_application_installs_it_when_loaded() -> None:
    # What daphne and uvicorn do first: import devops_insights.asgi.
    script = "import os, signal\nimport devops_insights.asgi\nos.kill(os.getpid(), signal.SIGUSR1)\nprint('on')\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "on"  # without the dump, SIGUSR1 would have ended the process
    assert "Current thread" in done.stderr
