"""moto's standalone S3 server on the loopback interface, for the tests and the benchmarks."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def start_moto_server() -> tuple:
    """moto's standalone S3 server in its own process on 127.0.0.1 and a free port: ``(process, URL)``.

    Its own process, not a thread of this one: delta-rs holds the GIL during some calls (listing
    the Delta log), and a server thread waiting for the GIL would stall them until they time out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto's S3 server did not start on {url}") from None
            time.sleep(0.1)
