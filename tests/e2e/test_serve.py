"""`python -m bot serve` (what `make run` starts): up, answering, and Ctrl-C stops both servers."""
import signal
import subprocess
import sys

import pytest
import requests

from bot import serve
from bot.config import ROOT
from servers import MODEL, free_port

pytestmark = pytest.mark.e2e


def test_serve_answers_and_stops_on_ctrl_c():
    port, actions_port = free_port(), free_port()
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--model", str(MODEL), "--port", str(port),
                                "--actions-port", str(actions_port)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert serve.wait_http(f"http://127.0.0.1:{port}/status", 240)
        assert serve.wait_http(f"http://127.0.0.1:{actions_port}/health", 60)
        reply = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                              json={"sender": "serve", "message": "备案有问题打什么电话"}, timeout=30).json()
        assert "950808" in reply[0]["text"]
        page = requests.get(f"http://127.0.0.1:{port}/webhooks/web/", timeout=10)
        assert page.status_code == 200 and "widget.js" in page.text
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        assert "is up" in output
        assert f"web chat:  http://127.0.0.1:{port}/webhooks/web/" in output
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/status", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
