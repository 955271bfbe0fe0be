"""The nginx set-up docs/deployment.md gives an operator is valid nginx as written.

`make prod` (tests/production/test_prod_stack.py) runs nginx without TLS; production runs it on
443 with a certificate and the port-80 redirect. This test takes the variables from the docs'
own code block (only the certificate paths point at a self-signed pair made here), renders
deploy/nginx.conf with the docs' `envsubst` line, adds deploy/nginx-redirect.conf, and asks
`nginx -t` whether the result holds. A change to the template or the docs that breaks the
documented set-up fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "deployment.md"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def documented_nginx_steps() -> tuple[dict[str, str], str]:
    """The `export DISPATCH_…=…` assignments and the `envsubst '…'` variable list from the
    docs' nginx block."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```sh\n(export DISPATCH_LISTEN=.*?)```", text, re.S)
    assert block, "docs/deployment.md has no nginx block starting with `export DISPATCH_LISTEN=`"
    script = block.group(1)
    export = re.search(r"export (.*?)\nenvsubst", script, re.S)
    assert export, "the nginx block does not export its variables before envsubst"
    assignments = dict(word.split("=", 1) for word in shlex.split(export.group(1).replace("\\\n", " ")))
    shell_format = re.search(r"envsubst '([^']+)'", script)
    assert shell_format, "the nginx block has no envsubst line naming its variables"
    return assignments, shell_format.group(1)


def test_the_documented_tls_set_up_is_valid_nginx(tmp_path):
    for tool in (NGINX, "envsubst", "openssl"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (apt-get install nginx-light gettext-base openssl)")
    variables, shell_format = documented_nginx_steps()
    assert variables["DISPATCH_LISTEN"] == "443 ssl"
    assert set(re.findall(r"\$\{(\w+)\}", shell_format)) == set(variables), "envsubst must name every variable"
    assert set(re.findall(r"\$\{(DISPATCH_\w+)\}", (ROOT / "deploy" / "nginx.conf").read_text())) == set(variables)

    # The docs' certificate paths, pointed at a self-signed pair; every other value as written.
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=dispatch.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = variables["DISPATCH_TLS"]
    assert "/etc/ssl/dispatch/fullchain.pem" in tls and "/etc/ssl/dispatch/privkey.pem" in tls
    env = {
        **os.environ,
        **variables,
        "DISPATCH_TLS": tls.replace("/etc/ssl/dispatch/fullchain.pem", str(cert)).replace(
            "/etc/ssl/dispatch/privkey.pem", str(key)
        ),
        "DISPATCH_ACCESS_LOG": str(tmp_path / "access.log"),
    }
    site = subprocess.run(
        ["envsubst", shell_format],
        input=(ROOT / "deploy" / "nginx.conf").read_text(),
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "${" not in re.sub(r"#.*", "", site), "a variable was left unrendered"
    (tmp_path / "dispatch-site.conf").write_text(site + "\n" + (ROOT / "deploy" / "nginx-redirect.conf").read_text())

    # The same whole-file wrapper make prod uses, so pid, temp files and logs stay in tmp_path.
    (tmp_path / "tmp").mkdir()
    wrapper = subprocess.run(
        ["envsubst", "${DISPATCH_RUN_DIR} ${DISPATCH_USER_DIRECTIVE}"],
        input=(ROOT / "deploy" / "nginx-local.conf").read_text(),
        env={**os.environ, "DISPATCH_RUN_DIR": str(tmp_path), "DISPATCH_USER_DIRECTIVE": ""},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "nginx.conf").write_text(wrapper)

    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert "syntax is ok" in check.stderr and "test is successful" in check.stderr


def test_a_broken_template_is_caught(tmp_path):
    """The check above can fail: nginx refuses a site whose TLS line names no certificate."""
    if shutil.which(NGINX) is None:
        skip_or_fail("nginx is not installed (apt-get install nginx-light)")
    (tmp_path / "tmp").mkdir()
    (tmp_path / "dispatch-site.conf").write_text("server { listen 443 ssl; ssl_certificate /nonexistent.pem; }\n")
    wrapper = (ROOT / "deploy" / "nginx-local.conf").read_text()
    wrapper = wrapper.replace("${DISPATCH_RUN_DIR}", str(tmp_path)).replace("${DISPATCH_USER_DIRECTIVE}", "")
    (tmp_path / "nginx.conf").write_text(wrapper)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True)
    assert check.returncode != 0
