"""``modelog server``: serve the configured registry over HTTP (the JSON API under /api/v1)."""

from __future__ import annotations

import ipaddress
import os

import click
from modelog.cli.output import echo
from modelog.cli.strict import StrictCommand

#: Seconds uvicorn waits for requests in flight after SIGTERM before closing their connections.
GRACEFUL_SECONDS = 30


def is_loopback(host: str) -> bool:
    """True for a host name or address that only this machine can reach (localhost, 127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


@click.command(cls=StrictCommand, name="server")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anything but loopback: put a TLS reverse proxy in front).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="TCP port.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (each de-duplicates command ids on its own).")
@click.pass_context
def server(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the registry over HTTP to remote clients (MODELOG_URL).

    Clients use it with MODELOG_URL=http://HOST:PORT and MODELOG_TOKEN=<an API token>: the CLI
    and the SDK then need no database URL and no local registry. Every API call but /health
    needs a token; create the first principal and token on the server's registry with
    'modelog principal add NAME' and 'modelog token create NAME'. Stop it with SIGTERM or
    Ctrl-C: requests in flight finish first.

    \b
    Example:
      modelog server --port 8080
    """
    if not is_loopback(host):
        echo(f"Warning: listening on {host}: tokens and data cross the network in clear text; serve clients "
                   "through a TLS reverse proxy (see docs/server.md)", err=True)
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException("the server needs its extra: pip install 'modelog[server]'") from None
    from modelog.server.app import open_configured_registry

    # Opened once here so that a registry the server cannot serve (schema too new, needs an upgrade,
    # unreachable) is one line before anything listens; each worker then opens its own.
    open_configured_registry().close()
    root = ctx.find_root().params
    os.environ["MODELOG_SERVER_LOG_FORMAT"] = str(root.get("log_format") or "console")
    uvicorn.run("modelog.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SECONDS,
                server_header=False)
