"""Command-line tasks: `flask --app wsgi create-user|seed-demo`."""

from __future__ import annotations

import logging

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app

from core.accounts import Role, create_user
from core.errors import DomainError
from web.extensions import db
from web.wiring import guarded_jobs, photo_store


def register(app: Flask) -> None:
    register_scheduler(app)
    register_retention(app)
    register_simulation(app)

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", "display_name", default="", help="Display name")
    @click.option("--outlet-id", type=int, default=None, help="Tie a dispatcher or manager to one outlet")
    def create_user_command(username: str, role: str, password: str, display_name: str, outlet_id: int | None) -> None:
        """Create a user account."""
        with db.session_scope() as session:
            try:
                user = create_user(session, username, password, role, display_name=display_name, outlet_id=outlet_id)
            except DomainError as exc:
                fields = getattr(exc, "fields", {})
                detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
                raise click.ClickException(f"{exc.message}{': ' + detail if detail else ''}") from None
            click.echo(f"created {user.role} '{user.username}' (id {user.id})")

    @app.cli.command("geocode-pending")
    @click.option("--limit", default=100, show_default=True)
    def geocode_pending_command(limit: int) -> None:
        """Retry geocoding for orders whose geocoder was unreachable at intake."""
        from dispatch.intake import retry_geocoding
        from web.wiring import intake_settings

        with db.session_scope() as session:
            counts = retry_geocoding(session, intake_settings(), limit=limit)
        click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))

    @app.cli.command("seed-demo")
    @click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed, the same city")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database already has orders")
    def seed_demo_command(seed: int, if_empty: bool) -> None:
        """Load a believable demo city (Xi'an): outlets, technicians, accounts, ~300 orders."""
        from dispatch.demo import DEMO_PASSWORD, database_is_empty, seed_demo

        with db.session_scope() as session:
            if if_empty and not database_is_empty(session):
                click.echo("demo data: the database already has data; left as it is")
                return
            summary = seed_demo(session, seed=seed, timezone=current_app.config["TIMEZONE"], progress=click.echo)
        click.echo(summary)
        click.echo(f"demo logins (password '{DEMO_PASSWORD}'): admin, dispatcher, manager, tech01 … tech30")


def register_retention(app: Flask) -> None:
    @app.cli.command("anonymize-customers")
    @click.option("--months", type=int, default=None, help="Retention period (default: RETENTION_MONTHS)")
    def anonymize_command(months: int | None) -> None:
        """Anonymize customers whose orders all ended longer ago than the retention period."""
        from dispatch.privacy import anonymize_stale_customers

        months = app.config["RETENTION_MONTHS"] if months is None else months
        if months <= 0:
            raise click.UsageError("retention is off (RETENTION_MONTHS=0); pass --months N")
        customers = orders = 0
        store = photo_store(app.config)
        while True:
            with db.session_scope() as session:
                result = anonymize_stale_customers(session, months, store=store)
            customers, orders = customers + result.customers, orders + result.orders
            if result.customers == 0:
                break
            click.echo(f"… {customers} customers so far")
        click.echo(f"anonymized {customers} customers ({orders} orders) older than {months} months")


def register_scheduler(app: Flask) -> None:
    @app.cli.command("scheduler")
    @click.option("--interval", default=30.0, show_default=True, help="Seconds between sweeps")
    def scheduler_command(interval: float) -> None:
        """Run the scheduler process (SLA sweeps, notices, auto-dispatch). Only one runs at a
        time; extra ones idle until it stops."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

        jobs = guarded_jobs(app.config, interval)
        scheduler = BlockingScheduler(timezone="UTC")
        jobs.install(scheduler, interval)
        click.echo(f"scheduler {jobs.lock.holder}: sweeping every {interval:g} s while it holds the lock")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            jobs.lock.release()


def register_simulation(app: Flask) -> None:
    @app.cli.command("simulate")
    @click.option("--days", default=7, show_default=True, type=click.IntRange(1, 92), help="Days of orders to replay")
    @click.option("--policies", default="baseline,instant,reoptimise", show_default=True,
                  help="Comma-separated policies (baseline, instant, reoptimise, auto; a number: minutes) or a JSON file")  # fmt: skip
    @click.option("--seed", default=1, show_default=True, type=int, help="First seed")
    @click.option("--seeds", default=1, show_default=True, type=click.IntRange(1, 100), help="How many seeds (confidence intervals need 2 or more)")  # fmt: skip
    @click.option("--model", "model_path", default=None, type=click.Path(exists=True, dir_okay=False),
                  help="The generator's parameters (default: simulation/default_outlet.json)")  # fmt: skip
    @click.option("--technicians", default=None, type=click.IntRange(1, 500), help="What if: technicians per outlet")
    @click.option("--orders-per-day", default=None, type=click.FloatRange(0, 10_000), help="What if: demand")
    @click.option("--shift", default=None, help="What if: shift hours, e.g. 08:00-18:00")
    @click.option(
        "--promise-hours", default=None, type=click.FloatRange(1, 240), help="What if: the completion promise"
    )
    @click.option("--from", "from", default=None, type=click.DateTime(["%Y-%m-%d"]),
                  help="Replay the orders of a real period from this local date (--days long) instead of generated ones")  # fmt: skip
    @click.option(
        "--horizon-days", default=None, type=click.IntRange(1, 7), help="What if: the planning horizon in days"
    )
    @click.option("--time-limit", default=0.3, show_default=True, type=click.FloatRange(0.05, 60), help="Seconds per re-optimisation")  # fmt: skip
    @click.option("--hindsight-s", default=5.0, show_default=True, type=click.FloatRange(0.1, 600), help="Solver seconds per day for the hindsight bound")  # fmt: skip
    @click.option("--json", "as_json", is_flag=True, help="The report as JSON on standard output")
    def simulate_command(**options) -> None:
        """Replay a period of generated orders under dispatch policies (the policy lab)."""
        import json
        import sys

        from simulation.lab import run_lab
        from simulation.request import LabOptionsError, lab_request

        if options["from"] is not None:
            options["from"] = options["from"].date()
        try:
            with db.session_scope() as session:
                request = lab_request(options, session)
        except LabOptionsError as exc:
            raise click.UsageError(str(exc)) from None
        with click.progressbar(length=1000, label="simulating", file=sys.stderr, show_eta=True) as bar:
            state = {"at": 0}

            def progress(share: float, step: dict) -> None:
                target = int(share * 1000)
                if target > state["at"]:
                    bar.label = f"{step['policy']} seed {step['seed']}"
                    bar.update(target - state["at"])
                    state["at"] = target

            report = run_lab(request, progress).as_dict()
        if options["as_json"]:
            click.echo(json.dumps(report, ensure_ascii=False, indent=2))
            return
        for p in report["policies"]:
            f = p["figures"]
            click.echo(
                f"{p['name']:>12}: 24 h {_pm(f['completion_24h_rate'])}  km {_pm(f['km'])}  "
                f"late p95 {_pm(f['lateness_p95_min'])} min  overtime {_pm(f['overtime_hours'])} h"
            )
        h = report["hindsight"]
        click.echo(f"{'hindsight':>12}: 24 h {_pm(h['completion_24h_rate'])}  km {_pm(h['km'])}")


def _pm(figure: dict) -> str:
    if figure["mean"] is None:
        return "–"
    return f"{figure['mean']:g}" + (f" ± {figure['ci']:g}" if figure["ci"] is not None else "")
