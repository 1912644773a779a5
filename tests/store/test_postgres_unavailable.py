"""A PostgreSQL store that cannot be opened says why and what to do, and every `depin` command ends with
that message and exit code 1, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from opendepin.store.errors import StoreUnavailable
from opendepin.store.postgres import PostgresStore
from opendepin.template import write_template
from tests.store.pg import SERVER


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # free, and nothing listens on it once closed


def test_a_server_that_does_not_answer_is_named_with_how_to_start_it() -> None:
    port = _closed_port()
    with pytest.raises(StoreUnavailable) as raised:
        PostgresStore(f"postgresql://postgres:secret@127.0.0.1:{port}/opendepin")
    text = str(raised.value)
    assert f"127.0.0.1:{port}" in text and "start the server" in text and "'opendepin'" in text
    assert "secret" not in text  # a password in the DSN is not repeated


@pytest.mark.integration
def test_a_missing_database_is_named_with_how_to_create_it() -> None:
    name = f"opendepin_missing_{uuid.uuid4().hex[:10]}"
    with pytest.raises(StoreUnavailable, match=f"does not exist; create it .*createdb .* {name}"):
        PostgresStore(f"{SERVER}/{name}")


@pytest.mark.integration
def test_commands_end_with_the_message_not_a_traceback(tmp_path: Path) -> None:
    write_template(tmp_path)
    name = f"opendepin_missing_{uuid.uuid4().hex[:10]}"
    text = (tmp_path / "network.toml").read_text().replace('kind = "sqlite"', 'kind = "postgres"')
    (tmp_path / "network.toml").write_text(
        text.replace("postgresql://postgres@127.0.0.1:5432/opendepin", f"{SERVER}/{name}")
    )
    for command in (["epoch", "show", "0"], ["serve", "--port", str(_closed_port())]):
        result = subprocess.run(
            [sys.executable, "-m", "opendepin", *command, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1, (command, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "createdb" in result.stderr, result.stderr[-2000:]
