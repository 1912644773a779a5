"""`depin provider storage` and `depin storage put|get|ls|rm|address` (mounted through the
`opendepin.commands` entry points; heavy imports happen inside the commands)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def examples(*lines: str) -> str:
    """An epilog listing examples, one per line (as every depin command shows them)."""
    return "\n".join(["Examples:", *(f"  $ {line}" for line in lines)])


provider_app = typer.Typer(
    help="Run a storage provider (depin provider storage --dir D --node URL).",
    epilog=examples(
        "depin provider storage --dir /srv/p1 --node http://127.0.0.1:8000 --port 7701",
        "depin provider storage --dir /srv/p2 --node http://127.0.0.1:8000 --port 7702",
    ),
)
storage_app = typer.Typer(
    help="Store files on the network's storage providers.",
    no_args_is_help=True,
    epilog=examples(
        "depin storage address",
        "depin storage put photo.jpg --provider http://127.0.0.1:7701 --provider http://127.0.0.1:7702",
        "depin storage ls",
        "depin storage get OBJECT_ID --output photo.jpg",
    ),
)

DEFAULT_HOME = Path(os.environ.get("DEPIN_STORAGE_HOME", str(Path.home() / ".depin-storage")))
Home = Annotated[Path, typer.Option(help="where the client keeps its key and catalog ($DEPIN_STORAGE_HOME)")]
Node = Annotated[str, typer.Option(help="the node's URL")]
Providers = Annotated[
    list[str] | None,
    typer.Option("--provider", help="a provider URL (repeat; default: HOME/providers.txt, one per line)"),
]
Key = Annotated[
    str | None, typer.Option(help="client EVM key, hex ($DEPIN_STORAGE_KEY; default HOME/client.key)")
]


def _key(value: str | None, env: str) -> bytes | None:
    text = value or os.environ.get(env)
    return bytes.fromhex(text.removeprefix("0x")) if text else None


@provider_app.callback(invoke_without_command=True)
def provider_storage(
    directory: Annotated[Path, typer.Option("--dir", help="where the provider keeps its key and pieces")],
    node: Node = "http://127.0.0.1:8000",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on")] = 7700,
    endpoint: Annotated[str | None, typer.Option(help="URL clients reach (default http://HOST:PORT)")] = None,
    capacity: Annotated[int, typer.Option(help="bytes offered")] = 10**11,
    prefix: Annotated[
        str, typer.Option(help="this host's network prefix, e.g. 203.0.113.0/24")
    ] = "127.0.0.0/24",
    owner_key: Annotated[
        str | None, typer.Option(help="owner EVM key for onboarding ($DEPIN_OWNER_KEY)")
    ] = None,
    maker_key: Annotated[
        str | None, typer.Option(help="maker EVM key for onboarding ($DEPIN_MAKER_KEY)")
    ] = None,
    lat: Annotated[float, typer.Option(help="latitude stated at onboarding")] = 0.0,
    lon: Annotated[float, typer.Option(help="longitude stated at onboarding")] = 0.0,
    poll: Annotated[float, typer.Option(help="seconds between audit polls")] = 2.0,
) -> None:
    """Keep pieces in DIR, serve them over HTTP, register them with the node, answer its audits.

    Example: depin provider storage --dir /srv/p1 --node http://127.0.0.1:8000 --port 7701
    --prefix 203.0.113.0/24 --owner-key $OWNER --maker-key $MAKER
    """
    from opendepin.sectors.storage.nodeclient import NodeError
    from opendepin.sectors.storage.provider import ProviderOptions, run_provider

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    options = ProviderOptions(
        directory=directory,
        node=node,
        capacity=capacity,
        prefix=prefix,
        endpoint=endpoint or f"http://{host}:{port}",
        owner_key=_key(owner_key, "DEPIN_OWNER_KEY"),
        maker_key=_key(maker_key, "DEPIN_MAKER_KEY"),
        lat=lat,
        lon=lon,
        poll_s=poll,
    )
    try:
        run_provider(options, host, port)
    except NodeError as error:
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None


def _client(home: Path, node: str, providers: list[str] | None, key: str | None):  # type: ignore[no-untyped-def]
    from opendepin.sectors.storage.client import StorageClient, client_wallet

    urls = list(providers or [])
    listed = home / "providers.txt"
    if not urls and listed.exists():
        urls = [line.strip() for line in listed.read_text().splitlines() if line.strip()]
    return StorageClient(client_wallet(home, key), node, urls, home)


@storage_app.command("address", epilog=examples("depin storage address"))
def address(home: Home = DEFAULT_HOME, key: Key = None) -> None:
    """The client's address (buy data credits for it: depin credits buy --to ADDRESS)."""
    from opendepin.sectors.storage.client import client_wallet

    typer.echo(client_wallet(home, key).address)


@storage_app.command(
    "put", epilog=examples("depin storage put photo.jpg", "depin storage put backup.tar --hours 2160 --json")
)
def put(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the file to store")],
    home: Home = DEFAULT_HOME,
    node: Node = "http://127.0.0.1:8000",
    provider: Providers = None,
    key: Key = None,
    hours: Annotated[int, typer.Option(help="hours of storage to prepay")] = 720,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Erasure-code FILE k of n across providers on distinct prefixes; print its object id.

    Example: depin storage put photo.jpg --node http://127.0.0.1:8000 --provider http://127.0.0.1:7701
    """
    from opendepin.sectors.storage.client import StorageError

    client = _client(home, node, provider, key)
    client.prepaid_hours = hours
    try:
        with file.open("rb") as source:
            record = client.put(source, file.name, file.stat().st_size)
    except StorageError as error:
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    summary = {
        "object": record.object_id,
        "size": record.size,
        "sha256": record.sha256,
        "segments": len(record.segments),
        "k": record.k,
        "n": record.n,
    }
    typer.echo(json.dumps(summary) if as_json else record.object_id)


@storage_app.command("get", epilog=examples("depin storage get OBJECT_ID --output photo.jpg"))
def get(
    object_id: Annotated[str, typer.Argument(help="the object id `put` printed")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file to write (default: stdout)")
    ] = None,
    home: Home = DEFAULT_HOME,
    node: Node = "http://127.0.0.1:8000",
    key: Key = None,
) -> None:
    """Fetch an object back (any k verified pieces per segment), checked against its SHA-256.

    Example: depin storage get 3f2a... -o photo.jpg
    """
    from opendepin.sectors.storage.client import StorageError

    client = _client(home, node, [], key)
    target = output.with_name(output.name + ".part") if output else None
    try:
        if target is None:
            client.get(object_id, sys.stdout.buffer)
        else:
            with target.open("wb") as out:
                client.get(object_id, out)
            target.replace(output)  # type: ignore[arg-type]
    except StorageError as error:
        if target is not None:
            target.unlink(missing_ok=True)
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()


@storage_app.command(
    "repair",
    epilog=examples(
        "depin storage repair OBJECT_ID",
        "depin storage repair --watch --interval 60",
        "depin storage repair --watch --once",
    ),
)
def repair(
    object_id: Annotated[
        str | None, typer.Argument(help="the object id `put` printed (none with --watch: every object)")
    ] = None,
    home: Home = DEFAULT_HOME,
    node: Node = "http://127.0.0.1:8000",
    provider: Providers = None,
    key: Key = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="rebuild every damaged segment, not only those at the repair threshold"),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="keep running: after each epoch close, repair every object of the catalog whose segments "
            "the node lists at the repair threshold or the holders' probe finds there",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="with --watch: seconds between checks for a closed epoch")
    ] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="with --watch: one round, then exit")] = False,
) -> None:
    """Rebuild segments whose healthy pieces fell to the repair threshold and place the missing pieces
    on other providers (downloads paid at the repair rate). With --watch, a long-running repairer: a
    round after each epoch close (and after a round that failed), logging what it did; SIGTERM or SIGINT
    stops it between steps.

    Example: depin storage repair 3f2a... --provider http://127.0.0.1:7708
    """
    from opendepin.sectors.storage.client import StorageError

    watch = watch or once
    if watch == (object_id is not None):
        typer.echo("error: give OBJECT_ID, or --watch (every object), not both", err=True)
        raise typer.Exit(2)
    client = _client(home, node, provider, key)
    if watch:
        _watch(client, interval, once)
        return
    try:
        counts = client.repair(object_id, force=force)  # type: ignore[arg-type]
    except StorageError as error:
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(json.dumps(counts))


def _watch(client, interval: float, once: bool) -> None:  # type: ignore[no-untyped-def]
    """Run the repairer until SIGTERM/SIGINT (or one round with `once`); each round's counts on stdout."""
    import signal
    import threading

    from opendepin.sectors.storage.repairer import Repairer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a probe is one request per piece
    stop = threading.Event()

    def on_signal(number: int, _frame: object) -> None:
        logging.getLogger("opendepin.storage.repairer").info("signal %d: stopping", number)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        Repairer(client, stop).watch(
            interval, once=once, on_round=lambda r: typer.echo(json.dumps(r.counts()), nl=True)
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        client.close()


@storage_app.command("renew", epilog=examples("depin storage renew OBJECT_ID --hours 720"))
def renew(
    object_id: Annotated[str, typer.Argument(help="the object id `put` printed")],
    hours: Annotated[int, typer.Option(min=1, help="hours of storage to add to every piece's expiry")] = 720,
    home: Home = DEFAULT_HOME,
    node: Node = "http://127.0.0.1:8000",
    key: Key = None,
) -> None:
    """Pay every piece of an object for HOURS more from its current expiry (a byte-hours receipt and the
    client's signature over the later expiry to each holder). A piece whose expiry passed is gone: put the
    object again. Prints counts as JSON.

    Example: depin storage renew 3f2a... --hours 720
    """
    from opendepin.sectors.storage.client import StorageError

    client = _client(home, node, [], key)
    try:
        counts = client.renew(object_id, hours)
    except StorageError as error:
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(json.dumps(counts))
    if counts["failed"]:
        raise typer.Exit(1)


@storage_app.command("ls", epilog=examples("depin storage ls", "depin storage ls --json"))
def ls(home: Home = DEFAULT_HOME, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The objects in the client's catalog, with the earliest expiry of their pieces (unix time)."""
    from opendepin.sectors.storage.client import Catalog

    records = sorted(Catalog(home).load().values(), key=lambda r: (r.created, r.object_id))
    rows = [
        {
            "object": r.object_id,
            "name": r.name,
            "size": r.size,
            "sha256": r.sha256,
            "expires": min((p.expires for s in r.segments for p in s.pieces), default=0),
        }
        for r in records
    ]
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        for row in rows:
            typer.echo(f"{row['object']}  {row['size']:>12}  {row['name']}")


@storage_app.command("rm", epilog=examples("depin storage rm OBJECT_ID"))
def rm(
    object_id: Annotated[str, typer.Argument()],
    home: Home = DEFAULT_HOME,
    node: Node = "http://127.0.0.1:8000",
    key: Key = None,
) -> None:
    """Ask every holder to delete the object's pieces (client-signed) and forget it."""
    from opendepin.sectors.storage.client import StorageError

    client = _client(home, node, [], key)
    try:
        counts = client.rm(object_id)
    except StorageError as error:
        typer.echo(f"error: {error.reason}: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(json.dumps(counts))
