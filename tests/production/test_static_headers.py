"""nginx serves the static files itself (deploy/nginx.conf), so the app's security headers
are not on them: the site template adds `X-Content-Type-Options: nosniff` and a
Content-Security-Policy of its own. This test renders the template as `make prod` does, runs
nginx on a free port with a directory of static files, and reads the headers it serves."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render(template: Path, values: dict[str, str]) -> str:
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


@pytest.fixture
def nginx(tmp_path):
    if shutil.which(NGINX) is None:
        skip_or_fail("nginx is not installed (apt-get install nginx-light)")
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body { color: black; }\n")
    (static / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n')
    port = _free_port()
    site = _render(ROOT / "deploy" / "nginx.conf", {
        "DISPATCH_LISTEN": f"127.0.0.1:{port}", "DISPATCH_TLS": "",
        "DISPATCH_UPSTREAMS": f"server 127.0.0.1:{_free_port()};",  # nothing behind: static only
        "DISPATCH_STATIC_ROOT": str(static), "DISPATCH_ACCESS_LOG": str(tmp_path / "access.log"),
    })  # fmt: skip
    assert "${" not in "".join(line.split("#")[0] for line in site.splitlines()), "a variable was left unrendered"
    (tmp_path / "dispatch-site.conf").write_text(site)
    (tmp_path / "tmp").mkdir()
    user = "user root;" if os.geteuid() == 0 else ""  # as root, workers would run as nobody
    wrapper = _render(ROOT / "deploy" / "nginx-local.conf",
                      {"DISPATCH_RUN_DIR": str(tmp_path), "DISPATCH_USER_DIRECTIVE": user})  # fmt: skip
    (tmp_path / "nginx.conf").write_text(wrapper)
    command = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"{base}/static/app.css", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _headers(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers


@pytest.mark.parametrize(("path", "status"), [("app.css", 200), ("icon.svg", 200), ("missing.js", 404)])
def test_static_files_from_nginx_carry_nosniff_and_a_policy_that_runs_nothing(nginx, path, status):
    got, headers = _headers(f"{nginx}/static/{path}")
    assert got == status
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = headers["Content-Security-Policy"] or ""
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # no script runs in a static file opened on its own
