"""Child processes that the browser benchmark, the screenshots tool and the tests start (`streamlit run`, ...): a free
loopback port to give them, and a stop that asks first and kills only when asked in vain."""
from __future__ import annotations

import socket
import subprocess


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, grace_seconds: float = 10) -> None:
    """SIGTERM (a server gives up its leases and closes its database), then SIGKILL after `grace_seconds`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_seconds)
