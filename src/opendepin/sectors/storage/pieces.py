"""A provider's pieces on its own disk: `DIR/pieces/<segment>/<index>` holds the bytes, `<index>.json` what
the provider agreed to (root, size, k, n, client and the client's signature, the expiry the client paid
for and its signature over it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from opendepin.sectors.storage import merkle

SEGMENT_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class PieceMeta:
    segment: str
    index: int
    size: int
    root: str
    k: int
    n: int
    client: str
    client_sig: str
    expires: int = 0
    """Unix time the paid storage runs out (0: never); `expiry_sig` is the client's over it (hex)."""
    expiry_sig: str = ""

    @property
    def key(self) -> str:
        return f"{self.segment}:{self.index}"


class PieceStore:
    """Pieces by (segment, index) under `root`; writes are atomic (temporary file, fsync, rename)."""

    def __init__(self, root: Path, capacity: int) -> None:
        self.dir = root / "pieces"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self._lock = threading.Lock()

    def path(self, segment: str, index: int) -> Path:
        if not SEGMENT_RE.match(segment) or not 0 <= index < 256:
            raise ValueError("a segment is 64 hex digits and a piece number is 0..255")
        return self.dir / segment / str(index)

    def used(self) -> int:
        return sum(m.size for m in self.all())

    def put(self, meta: PieceMeta, data: bytes) -> None:
        path = self.path(meta.segment, meta.index)
        with self._lock:
            if self.used() + len(data) > self.capacity:
                raise OSError(f"capacity {self.capacity} bytes would be exceeded")
            path.parent.mkdir(exist_ok=True)
            for target, content in (
                (path, data),
                (path.with_suffix(".json"), json.dumps(asdict(meta)).encode()),
            ):
                tmp = target.with_name(target.name + ".tmp")
                with tmp.open("wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                tmp.replace(target)

    def update_meta(self, meta: PieceMeta) -> None:
        """Rewrite a stored piece's metadata (a renewal's later expiry) atomically, bytes untouched."""
        target = self.path(meta.segment, meta.index).with_suffix(".json")
        with self._lock:
            tmp = target.with_name(target.name + ".tmp")
            with tmp.open("wb") as out:
                out.write(json.dumps(asdict(meta)).encode())
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)

    def meta(self, segment: str, index: int) -> PieceMeta | None:
        path = self.path(segment, index).with_suffix(".json")
        try:
            return PieceMeta(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def read(self, segment: str, index: int) -> bytes | None:
        try:
            return self.path(segment, index).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, segment: str, index: int) -> bool:
        path = self.path(segment, index)
        with self._lock:
            found = path.with_suffix(".json").exists()
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            if path.parent.exists() and not any(path.parent.iterdir()):
                shutil.rmtree(path.parent, ignore_errors=True)
        return found

    def all(self) -> list[PieceMeta]:
        """Every piece the provider agreed to keep (its bytes may since have been lost)."""
        out = []
        for meta_path in sorted(self.dir.glob("*/*.json")):
            try:
                out.append(PieceMeta(**json.loads(meta_path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return out


def tree_of(data: bytes, leaf_size: int) -> list[list[bytes]]:
    return merkle.build_levels([merkle.hash_leaf(leaf) for leaf in merkle.iter_leaves(data, leaf_size)])
