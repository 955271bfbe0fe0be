"""deploy/'s systemd units and docker-compose file agree with the code they start.

`make prod` (tests/production/test_prod_stack.py) runs the process model as plain processes;
the units and the compose file describe the same processes for systemd and Docker. These
tests keep them from drifting: `systemd-analyze verify` on the units as docs/deployment.md
installs them (with /srv/dispatch pointed at this checkout, whose .venv `make setup` built),
and the compose file's commands, health checks and nginx variables against the app, the
Makefile and deploy/nginx.conf. The compose file itself cannot be run here (no Docker daemon).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = ROOT / ".venv" / "bin"
INSTALL_DIR = "/srv/dispatch"  # where docs/deployment.md puts the code, and the units expect it


def installed_units(tmp_path: Path) -> Path:
    """The three unit files as the docs copy them, with INSTALL_DIR pointed at this checkout,
    and the template instantiated for one port as `systemctl enable dispatch-web@8001` would."""
    units = tmp_path / "units"
    units.mkdir()
    for unit in (DEPLOY / "systemd").iterdir():
        (units / unit.name).write_text(unit.read_text().replace(INSTALL_DIR, str(ROOT)))
    shutil.copy(units / "dispatch-web@.service", units / "dispatch-web@8001.service")
    return units


def verify(units: Path, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )  # fmt: skip


def require_systemd_analyze() -> None:
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze is not installed (apt-get install systemd)")
    if not (VENV_BIN / "gunicorn").exists():
        skip_or_fail(".venv has no gunicorn: run `make setup` first")


def test_the_systemd_units_are_valid_and_start_what_the_checkout_has(tmp_path):
    require_systemd_analyze()
    units = installed_units(tmp_path)
    documented = re.search(
        r"```sh\ncp (deploy/systemd/.*?)/etc/systemd/system/", (ROOT / "docs/deployment.md").read_text(), re.S
    )
    assert documented, "docs/deployment.md no longer shows how to install the units"
    copied = {Path(p).name for p in shlex.split(documented.group(1).replace("\\\n", " "))}
    assert copied == {p.name for p in (DEPLOY / "systemd").iterdir()}, "the docs must install every unit"

    check = verify(units, "dispatch-scheduler.service", "dispatch-web@8001.service", "dispatch.target")
    # verify exits 0 on unknown keys and bad values, printing a warning: any output is a finding.
    assert check.returncode == 0 and check.stderr.strip() == "", check.stderr

    # Each ExecStart runs a program from the checkout's .venv with arguments the program takes.
    for name in ("dispatch-scheduler.service", "dispatch-web@.service"):
        exec_start = re.search(r"^ExecStart=(.+)$", (units / name).read_text(), re.M).group(1)
        program, *args = shlex.split(exec_start)
        assert Path(program).parent == VENV_BIN, f"{name}: {program} is not in the project's .venv"
        if Path(program).name == "gunicorn":
            assert args[:2] == ["-c", "deploy/gunicorn.conf.py"] and (ROOT / args[1]).exists()
            assert args[2] == "wsgi:app"
        else:
            assert_flask_command_takes(args)


def test_a_broken_unit_is_caught(tmp_path):
    """The check above can fail: a misspelt key and a program that is not there are reported."""
    require_systemd_analyze()
    units = installed_units(tmp_path)
    unit = units / "dispatch-scheduler.service"
    unit.write_text(
        unit.read_text().replace("Restart=always", "Restrat=always").replace("/.venv/bin/flask", "/.venv/bin/flusk")
    )
    check = verify(units, "dispatch-scheduler.service")
    assert "Restrat" in check.stderr
    assert check.returncode != 0 and "flusk" in check.stderr


def assert_flask_command_takes(args: list[str]) -> None:
    """`flask <command> --option …` names a command of the app and options that command has."""
    command, *options = args
    listed = subprocess.run(
        [str(VENV_BIN / "flask"), command, "--help"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": "sqlite://"}, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, f"`flask {command}` is not a command of the app: {listed.stderr[-500:]}"
    for option in (o for o in options if o.startswith("--")):
        assert option in listed.stdout, f"`flask {command}` has no {option}"


# --- docker-compose ---------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_the_same_processes_as_make_prod():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web1", "web2", "scheduler", "nginx"}
    app_services = {name: s for name, s in services.items() if s.get("build", {}).get("target") == "app"}
    assert set(app_services) == {"migrate", "web1", "web2", "scheduler"}

    for name in ("web1", "web2"):
        web = services[name]
        assert web["command"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
        assert web["environment"]["REDIS_URL"], "several web instances share Socket.IO through Redis"
        probe = " ".join(web["healthcheck"]["test"])
        assert re.search(r"http://127\.0\.0\.1:8000/readyz", probe), probe
        assert web["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"] and (ROOT / "alembic.ini").exists()
    assert services["scheduler"]["command"][0] == "flask"
    assert_flask_command_takes(services["scheduler"]["command"][1:])

    # nginx fills in exactly the variables deploy/nginx.conf has, with an upstream per web service.
    nginx = services["nginx"]["environment"]
    template = set(re.findall(r"\$\{(DISPATCH_\w+)\}", (DEPLOY / "nginx.conf").read_text()))
    assert {k for k in nginx if k.startswith("DISPATCH_")} == template
    assert nginx["NGINX_ENVSUBST_FILTER"] == "DISPATCH_"
    upstreams = re.findall(r"server (\w+):8000", nginx["DISPATCH_UPSTREAMS"])
    assert sorted(upstreams) == ["web1", "web2"]


def test_the_image_vendors_the_same_browser_libraries_as_make_setup():
    """The Dockerfile's vendor stage copies what the Makefile's `vendor` target copies."""

    def copied(text: str) -> set[str]:
        return {src for line in re.findall(r"cp (node_modules/[^\n\\&]+)", text) for src in line.split()[:-1]}

    in_make = copied((ROOT / "Makefile").read_text())
    in_image = copied((DEPLOY / "Dockerfile").read_text())
    assert in_make and in_make == in_image
    assert "COPY deploy/nginx.conf /etc/nginx/templates/default.conf.template" in (DEPLOY / "Dockerfile").read_text()
