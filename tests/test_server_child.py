"""serving/server.py with a stand-in for `swift deploy` (a Python HTTP server; the real one is
in the e2e tests): ready when /v1/models answers, its log's tail when it dies first, stopped
with its whole group even when it ignores SIGINT."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from conftest import free_port

from swiftkit.errors import SwiftkitError
from swiftkit.msswift.command import Command
from swiftkit.pipeline import launch
from swiftkit.serving.client import Endpoint
from swiftkit.serving.server import Deployed

SERVER = """
import json, signal, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
if sys.argv[2] == "deaf":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
if sys.argv[2] == "dies":
    print("loading the model ... CUDA out of memory", flush=True)
    sys.exit(3)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"data": [{"id": "Nova"}, {"id": "qwen"}]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
time.sleep(0.5)
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def stand_in(port: int, mode: str) -> Command:
    return Command([os.path.basename(sys.executable), "-c", SERVER, str(port), mode])


@pytest.mark.parametrize("mode", ["plain", "deaf"])
def test_ready_then_stopped_with_its_group(tmp_path, mode):
    port = free_port()
    with Deployed(stand_in(port, mode), tmp_path / "log", "127.0.0.1", port, timeout=60) as s:
        assert s.ids == ["Nova", "qwen"]
        assert Endpoint.of(s.url).models() == ["Nova", "qwen"]
        pgid = s.server.pgid
    assert not launch.group_alive(pgid)


def test_a_child_that_dies_before_it_answers_shows_its_log(tmp_path):
    port = free_port()
    with pytest.raises(SwiftkitError) as err:
        with Deployed(stand_in(port, "dies"), tmp_path / "log", "127.0.0.1", port, timeout=60):
            pass
    text = err.value.format()
    assert "swift deploy exited (code 3) before it answered" in text
    assert "CUDA out of memory" in text and str(tmp_path / "log") in text


def test_an_interrupt_inside_stops_the_child_at_once(tmp_path):
    port = free_port()
    with pytest.raises(KeyboardInterrupt):
        with launch.stoppable():
            with Deployed(stand_in(port, "deaf"), tmp_path / "log", "127.0.0.1", port) as s:
                pgid = s.server.pgid
                os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` from outside
                signal.pause()
    assert not launch.group_alive(pgid)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back
