"""``repo-sign hosting`` and ``publish``: putting the workspace behind real hosts.

Thin: the rules live in ``hosting`` (what is served, with which headers) and
``objectstore`` (publishing to S3-compatible storage).
"""

from __future__ import annotations

from pathlib import Path

import click

from repo_sign.cli_support import echo_lines, repo_option, workspace_of
from repo_sign.hosting import nginx_server_block
from repo_sign.objectstore import publish as publish_to


@click.group()
def hosting() -> None:
    """Print web server configuration for the workspace."""


@hosting.command()
@repo_option
@click.option(
    "--listen",
    required=True,
    metavar="ADDR:PORT",
    help="Address nginx listens on, e.g. 127.0.0.1:8080 or [::]:8080.",
)
@click.pass_context
def nginx(ctx: click.Context, repo: Path | None, listen: str) -> None:
    """Print an nginx server block serving metadata/ and targets/ with cache headers."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    click.echo(nginx_server_block(ws.root, listen), nl=False)


@click.command()
@repo_option
@click.argument("destination", metavar="s3://BUCKET/PREFIX")
@click.option(
    "--endpoint-url",
    default=None,
    metavar="URL",
    help="S3-compatible endpoint (default: AWS, per boto3's settings).",
)
@click.pass_context
def publish(
    ctx: click.Context, repo: Path | None, destination: str, endpoint_url: str | None
) -> None:
    """Upload metadata/ and targets/ to object storage, timestamp last; skip what is there."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    echo_lines(publish_to(ws, destination, endpoint_url).lines())


# The commands ``cli`` adds to the ``repo-sign`` group.
COMMANDS = (hosting, publish)
