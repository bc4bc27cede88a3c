"""The raw store: e-mail bytes and attachment blobs, content-addressed.

Names are derived from the sha256 of the bytes, so storing the same bytes twice
writes nothing new. On local disk every write is durable before `blob_put`
returns (written to a temporary file, fsync'ed, renamed, directory fsync'ed):
a source is only acknowledged once its bytes survive a power cut. The backend
is Django's `STORAGES["mail"]`, so object storage can take over by settings."""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, storages


class DurableFileSystemStorage(FileSystemStorage):
    """A file-system storage whose writes are atomic and fsync'ed, and which
    never renames: a name that exists already holds the same bytes."""

    def _save(self, name: str, content: File) -> str:  # type: ignore[type-arg]
        path = self.path(name)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(path):
            return name
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
        return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Content-addressed: the same name means the same bytes.
        return name


def _storage() -> Any:
    return storages["mail"]


def blob_name(kind: str, sha256: str) -> str:
    """Where bytes of this digest live: `raw/ab/cd/abcd…` or `attachments/ab/cd/abcd…`."""
    return f"{kind}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blob_put(data: bytes, *, kind: str) -> tuple[str, str]:
    """Store `data` durably; return its sha256 and its name in the store."""
    sha256 = hashlib.sha256(data).hexdigest()
    name = blob_name(kind, sha256)
    storage = _storage()
    if not storage.exists(name):
        storage.save(name, ContentFile(data))
    return sha256, name


def blob_read(name: str) -> bytes:
    """The bytes stored under `name`."""
    with _storage().open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def blob_open(name: str) -> IO[bytes]:
    """A file object on the bytes stored under `name` (for streaming downloads)."""
    handle: IO[bytes] = _storage().open(name, "rb")
    return handle
