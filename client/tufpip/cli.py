"""The ``tufpip`` command: parse arguments, call ``Client``, map errors to exit codes.

Rules:
- Every failure ends with one line on stderr (``tufpip: error: ...``) and the
  error's exit status (see ``errors.EXIT_CODES``), click's usage errors
  included (exit 2); ``--debug`` adds the traceback.
- ``--json`` makes a command print one JSON document on stdout, and only
  that (the installer's own output goes to stderr); a failure is still one
  line on stderr with its exit status.
- Nothing printed or logged shows credentials of a URL (``urls.redact``).
- ``install`` without ``--python`` goes into the active virtual environment,
  as pip does; with none active it refuses tufpip's own environment unless
  ``--target``, ``--prefix`` or ``--root`` sends the files elsewhere.
- The client is imported once a command runs: ``--help`` needs only click.
- ``main`` ends a successful run with ``os._exit`` once stdout and stderr are
  flushed: the state is saved by then, and teardown only costs time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tufpip import urls
from tufpip.errors import EXIT_CODES, AuditFailed, TufpipError, UsageError
from tufpip.state import DEFAULT_NAME

if TYPE_CHECKING:
    from tufpip.client import Client, Status
    from tufpip.installer import Installer, InstallerName

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}
# Installs with these options write into a folder of their own, never into
# the environment of the interpreter pip runs for.
_ELSEWHERE = ("--target", "--prefix", "--root")


class _PassThrough(click.Command):
    """A command whose other options are the installer's, spelled as the installer spells them.

    click reads a cluster of short options letter by letter, and would find
    this command's own inside an installer's: ``-ihttps://example.org`` holds
    ``-h`` (help, exit 0) and ``-o`` (lock's output). A cluster that does not
    start with one of this command's own short options is the installer's:
    it stays whole, in its place, for ``arguments`` to check.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own = {
            name
            for param in self.get_params(ctx)
            for name in getattr(param, "opts", ())
            if len(name) == 2 and name[0] == "-" and name != "--"
        }
        clusters: dict[str, str] = {}
        shielded = []
        for arg in args:
            if (
                arg.startswith("-")
                and not arg.startswith("--")
                and len(arg) > 2
                and arg[:2] not in own
            ):
                key = f"\0{len(clusters)}"  # no argument holds a NUL: never taken for another
                clusters[key] = arg
                arg = key
            shielded.append(arg)
        rest = super().parse_args(ctx, shielded)
        for name, value in ctx.params.items():
            if isinstance(value, tuple):
                ctx.params[name] = tuple(clusters.get(item, item) for item in value)
            elif isinstance(value, str | Path) and str(value) in clusters:
                ctx.params[name] = type(value)(clusters[str(value)])
        return [clusters.get(item, item) for item in rest]


F = TypeVar("F", bound=Callable[..., Any])
_DEBUG = "debug"


class _RedactingFormatter(logging.Formatter):
    """Log lines (tracebacks included) with URL credentials hidden."""

    def format(self, record: logging.LogRecord) -> str:
        return urls.redact(super().format(record))


def _json_option(command: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
    )(command)


def _python_option(purpose: str) -> Callable[[F], F]:
    """``--python PATH``: the target environment, which the command's ``purpose`` names."""
    return click.option(
        "--python",
        metavar="PATH",
        help=f"{purpose} the environment of this Python (default: the active virtual environment).",
    )


@click.group(
    no_args_is_help=False,  # "Missing command": one line, as every usage error
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()),
)
@click.version_option(package_name="tufpip", prog_name="tufpip", message="%(prog)s %(version)s")
@click.option("--repository", metavar="NAME", help="Recorded repository to use (default: first).")
@click.option("-v", "--verbose", is_flag=True, help="Show each verified target.")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP requests.")
@click.pass_context
def cli(ctx: click.Context, repository: str | None, verbose: bool, debug: bool) -> None:
    """Install Python packages only after TUF verification."""
    ctx.ensure_object(dict)[_DEBUG] = debug  # for main(), which reports what commands raise
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("tufpip: %(message)s"))
    logger = logging.getLogger("tufpip")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    from tufpip import progress
    from tufpip.client import Client

    ctx.obj = Client(repository=repository, progress=progress.for_stderr())


@cli.command()
@click.argument("url")
@click.option("--root", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Name to record it as.")
@click.option("--trust-on-first-use", is_flag=True, help="Trust the root the server sends now.")
@click.option("--yes", is_flag=True, help="Do not ask before trusting on first use.")
@click.option(
    "--force", is_flag=True, help="Replace a repository recorded as NAME, wiping its state."
)
@click.option(
    "--cooldown",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Resolve only files uploaded at least DAYS ago, unless a command says otherwise.",
)
@click.pass_obj
def init(
    client: Client,
    url: str,
    root: Path | None,
    name: str,
    trust_on_first_use: bool,
    yes: bool,
    force: bool,
    cooldown: int | None,
) -> None:
    """Record the repository at base URL, trusting the root metadata ROOT."""
    url = urls.check(url)
    if root is not None:
        data = root.read_bytes()
    elif trust_on_first_use:
        if not yes and not sys.stdin.isatty():
            raise UsageError(
                "no terminal to confirm the keys on: pass --yes after checking them another way,"
                " or --root ROOT_JSON"
            )
        metadata = client.fetch_first_root(url)
        roles = metadata.signed.roles["root"]
        click.echo(f"root version {metadata.signed.version} of {urls.redact(url)}", err=True)
        click.echo(f"threshold: {roles.threshold} of {len(roles.keyids)} root keys:", err=True)
        for keyid in roles.keyids:
            key = metadata.signed.keys[keyid]
            click.echo(f"  {keyid} ({key.keytype}, {key.scheme})", err=True)
        if not yes and not _confirm("Trust these keys?"):
            raise UsageError("not trusted: nothing recorded")
        data = metadata.to_bytes()
    else:
        raise UsageError("refusing to trust a repository without --root ROOT_JSON")
    repository = client.init(url, data, name, force=force, cooldown_days=cooldown)
    click.echo(f"recorded repository {repository.name!r} at {urls.redact(repository.url)}")


def _confirm(question: str) -> bool:
    """The user's answer; end of input or Ctrl-C is a no."""
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        click.echo(err=True)
        return False


@cli.command()
@click.argument("name")
@click.pass_obj
def forget(client: Client, name: str) -> None:
    """Remove the recorded repository NAME, its trusted metadata and its cache."""
    repository = client.forget(name)
    click.echo(f"forgot repository {repository.name!r} ({repository.path} removed)")


@cli.command(cls=_PassThrough, context_settings=_PASS_THROUGH)
@click.option("--installer", type=click.Choice(["pip", "uv"]), default="pip", show_default=True)
@_python_option("Install into")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def install(
    client: Client, installer: InstallerName, python: str | None, args: tuple[str, ...]
) -> None:
    """Install packages with pip's (or uv's) install options, from verified files only."""
    from tufpip.installer import Installer, target_python

    target = target_python(python, os.environ)
    chosen = Installer(installer, target)
    if target is None and not _installs_elsewhere(args, chosen):
        raise UsageError(
            "no active virtual environment to install into: activate one, or pass --python PATH"
            f" (--python {sys.executable} installs into tufpip's own environment)"
        )
    client.install(args, chosen)


def _installs_elsewhere(args: Sequence[str], installer: Installer) -> bool:
    """Whether ``args`` send the install to ``--target``, ``--prefix`` or ``--root``.

    The arguments are checked as the install checks them, so a refused
    source or a bad option is reported as such, whatever the environment.
    """
    from tufpip.arguments import canonical_arguments
    from tufpip.requirements import RequirementFiles

    with tempfile.TemporaryDirectory(prefix="tufpip-") as folder:
        files = RequirementFiles(Path(folder), installer.environ)
        canonical = canonical_arguments(args, installer.options, files)
    return any(argument.partition("=")[0] in _ELSEWHERE for argument in canonical)


@cli.command(cls=_PassThrough, context_settings=_PASS_THROUGH)
@click.option("-d", "--dest", type=click.Path(file_okay=False, path_type=Path), default=".")
@_python_option("Resolve for")
@_json_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def download(
    client: Client, dest: Path, python: str | None, as_json: bool, args: tuple[str, ...]
) -> None:
    """Download resolved, verified distributions into DEST."""
    from tufpip.installer import Installer, target_python

    installer = Installer("pip", target_python(python, os.environ))
    if not as_json:
        client.download(args, dest, installer)
        return
    before = _files(dest)
    with _stdout_on_stderr():
        client.download(args, dest, installer)
    saved = sorted(name for name, stamp in _files(dest).items() if before.get(name) != stamp)
    _echo_json({"dest": str(dest.resolve()), "saved": saved})


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of each file in ``folder``, by name."""
    if not folder.is_dir():
        return {}
    return {
        f.name: (f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file()
    }


@contextlib.contextmanager
def _stdout_on_stderr() -> Iterator[None]:
    """Send what the installer writes on stdout to stderr: stdout holds tufpip's document only."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@cli.command(cls=_PassThrough, context_settings=_PASS_THROUGH)
@click.option(
    "-o",
    "--output",
    default="pylock.toml",
    show_default=True,
    metavar="FILE",
    help="The lock file to write: pylock.toml or pylock.NAME.toml (-: stdout).",
)
@_python_option("Resolve for")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def lock(client: Client, output: str, python: str | None, args: tuple[str, ...]) -> None:
    """Write a PEP 751 lock of verified files, with the repository's own URLs.

    Takes requirements, -r and -c files and pip lock's selection options.
    """
    from tufpip import lockwriter
    from tufpip.installer import Installer, target_python

    lockwriter.check_output(output)
    installer = Installer("pip", target_python(python, os.environ))
    if output == lockwriter.STDOUT:
        with _stdout_on_stderr():
            text = client.lock(args, installer)
        click.echo(text, nl=False)
        return
    text = client.lock(args, installer)
    lockwriter.save(Path(output), text)
    click.echo(f"wrote {output}: {text.count('[[packages]]')} packages", err=True)


@cli.command()
@click.option(
    "--bind",
    "address",
    metavar="ADDR",
    default="127.0.0.1",
    show_default=True,
    help="IP address to serve on (any but loopback exposes every package to who reaches it).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port to serve on (default: the repository's recorded one; 0: any free port).",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Refresh the metadata before a page request once it is older (0: always).",
)
@click.option("--repository", "name", metavar="NAME", help="Recorded repository to serve.")
@click.pass_obj
def serve(client: Client, address: str, port: int | None, max_age: float, name: str | None) -> None:
    """Serve the repository as a verifying package index until SIGINT or SIGTERM.

    The first line printed is the index URL.
    """
    if name is not None:
        client.repository_name = name
    if not logging.getLogger("tufpip").isEnabledFor(logging.DEBUG):
        logging.getLogger("tufpip.session").setLevel(logging.WARNING)  # -v: a line per request
    client.serve(click.echo, address, port, max_age)


@cli.command()
@_json_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def verify(client: Client, as_json: bool, files: tuple[Path, ...]) -> None:
    """Check that local FILES are exactly targets of the repository."""
    results = client.verify(files)
    if as_json:
        _echo_json(
            {
                "results": [
                    {
                        "file": str(result.file),
                        "target": result.target,
                        "ok": result.error is None,
                        "error": None if result.error is None else str(result.error),
                    }
                    for result in results
                ]
            }
        )
    else:
        for result in results:
            if result.error is None:
                click.echo(f"OK {result.file}: {result.target}")
            else:
                click.echo(f"FAILED {result.error}", err=True)
    failures = [r.error for r in results if r.error is not None]
    if failures:
        raise failures[0]


@cli.command()
@click.option(
    "--python",
    metavar="PATH",
    help="Audit the environment of this Python (default: the active virtual environment).",
)
@_json_option
@click.pass_obj
def audit(client: Client, python: str | None, as_json: bool) -> None:
    """Check installed distributions and files against the wheels the repository signs.

    One line per problem on stdout (JSON: a list of {name, version, problem,
    path}); exit status 4 if there is any.
    """
    from tufpip.installer import target_python

    target = target_python(python, os.environ)
    if target is None:
        raise UsageError(
            "no active virtual environment to audit: activate one, or pass --python PATH"
        )
    report = client.audit(target)
    if as_json:
        _echo_json([problem.to_json() for problem in report.problems])
    else:
        for problem in report.problems:
            click.echo(str(problem))
    if report.problems:
        names = {(problem.name, problem.version) for problem in report.problems}
        raise AuditFailed(
            f"{len(report.problems)} problems in {len(names)} of {report.distributions}"
            f" distributions of {report.python}: reinstall them with tufpip install"
            " --force-reinstall, or remove what the repository does not sign"
        )
    if not as_json:
        click.echo(
            f"OK: {report.distributions} distributions of {report.python} match the wheels"
            " the repository signs"
        )


@cli.command(name="list")
@_json_option
@click.pass_obj
def list_(client: Client, as_json: bool) -> None:
    """List the projects the repository signs."""
    projects = client.projects()
    if as_json:
        _echo_json({"projects": projects})
        return
    for name in projects:
        click.echo(name)


@cli.command()
@_json_option
@click.argument("name")
@click.pass_obj
def info(client: Client, as_json: bool, name: str) -> None:
    """Show the versions and files of project NAME (as JSON: its signed PEP 691 page)."""
    page = client.project(name)
    if as_json:
        _echo_json(page)
        return
    click.echo(f"{page['name']}: {', '.join(page.get('versions', []))}")
    for file in page["files"]:
        size, sha256 = file.get("size", "?"), file["hashes"]["sha256"]
        click.echo(f"  {file['filename']}  {size} bytes  sha256:{sha256}")


@cli.command()
@_json_option
@click.pass_obj
def status(client: Client, as_json: bool) -> None:
    """Show trusted metadata versions, expiry, repository URL and cache size."""
    _print_status(client.status(), as_json)


@cli.command()
@_json_option
@click.pass_obj
def refresh(client: Client, as_json: bool) -> None:
    """Update the trusted metadata only."""
    _print_status(client.refresh(), as_json)


def _print_status(report: Status, as_json: bool) -> None:
    report = dataclasses.replace(report, url=urls.redact(report.url))
    if as_json:
        _echo_json(report.to_json())
        return
    click.echo(f"repository {report.repository}: {report.url}")
    for role, state in report.roles.items():
        expired = "  EXPIRED" if state.expired else ""
        click.echo(f"  {role}: version {state.version}, expires {state.expires}{expired}")
    click.echo(f"  cache: {report.cache_files} files, {report.cache_bytes} bytes")
    if report.cooldown_days is not None:
        click.echo(f"  cooldown: {report.cooldown_days} days")


def _echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tufpip`` with ``argv`` (default: the process's); return the exit status.

    The one place where failures become output: one ``tufpip: error:`` line
    (the traceback first with ``--debug``) and the error's exit status.
    """
    options: dict[str, object] = {}  # the group's options, once parsed
    try:
        status = cli.main(args=argv, prog_name="tufpip", standalone_mode=False, obj=options)
    except TufpipError as exc:
        if options.get(_DEBUG):
            click.echo(urls.redact(traceback.format_exc()), err=True, nl=False)
        click.echo(f"tufpip: error: {urls.redact(str(exc))}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        message = urls.redact(exc.format_message())
        if context := getattr(exc, "ctx", None):  # usage errors name their command
            message = f"{message.rstrip('.')} (see '{context.command_path} -h')"
        click.echo(f"tufpip: error: {message}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("tufpip: error: interrupted", err=True)
        return 130
    return status if isinstance(status, int) else 0


# The SDKs of securesystemslib's signing backends (KMS, HSM, Vault, Sigstore):
# securesystemslib.signer imports each one that is installed, whenever tuf is
# imported. tufpip only verifies signatures, which needs none of them.
_SIGNING_BACKENDS = ("boto3", "botocore", "pkcs11", "asn1crypto", "google.cloud", "azure", "hvac")


def run() -> None:
    """The console script: ``main()``, then exit; a success exits without teardown.

    The process never loads a signing backend's SDK: where boto3 or
    python-pkcs11 share tufpip's environment, importing them would add
    about 80 ms before every install could be served.
    """
    for name in _SIGNING_BACKENDS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    status = main()
    if status == 0:
        _exit_at_once()
    sys.exit(status)


def _exit_at_once() -> None:
    """End a successful run without the interpreter's teardown, once output is flushed.

    Every command has saved its state, released its locks and removed its
    temporary folders before returning; what teardown would add is only time
    (freeing every module tuf, cryptography and requests loaded). Returns when
    the output cannot be flushed, for the usual exit to report it.
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(0)
