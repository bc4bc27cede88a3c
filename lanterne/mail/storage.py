"""The raw store: e-mail bytes and attachment blobs, content-addressed.

Names are derived from the sha256 of the bytes, so storing the same bytes twice
writes nothing new. On local disk every write is durable before `blob_put`
returns: written to a temporary file, fsync'ed, renamed into place, and its
directory fsync'ed (with the parent of any directory created for it). A source
is only acknowledged once its bytes survive a power cut. The backend is
Django's `STORAGES["mail"]`, so object storage can take over by settings.

Temporary files are written in one staging folder, `incoming/`, and renamed
from there (as git writes its objects and maildir its messages): a writer
killed half-way leaves its temporary file there and nowhere else, and the next
writer removes it (`DurableFileSystemStorage.clean_incoming`). The whole store
must therefore be one file system.

Bulk writers (`lanterne import-mail`) group their writes with `blob_batch()`:
inside it, `blob_put` writes the temporary file without syncing it, and
`BlobBatch.flush` syncs a whole batch at once — the file system then merges the
syncs into a few journal commits instead of three per file — before the
caller commits the database transaction that refers to the blobs. The
guarantee is the same (no committed row names a blob that a power cut could
lose); only the number of disk flushes changes.

On S3-compatible object storage (`LANTERNE_STORAGE=s3`: `S3BlobStorage`),
durable means the PUT succeeded: `blob_put` returns once the store has
answered it, and a batch (`S3BlobBatch`) uploads its blobs concurrently in
`flush`, before the commit. A blob already in the bucket (a HEAD finds it) is
not uploaded again."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import IO, Any

from botocore.exceptions import ClientError
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, storages

from lanterne.core.storage import PrivateS3Storage, is_missing

# The staging folder, relative to the store's root; never a blob name (those
# start with "raw/" or "attachments/").
INCOMING = "incoming"
_INCOMING_PREFIX = ".incoming-"
# A temporary file this old belongs to no write in progress, whoever wrote it
# (a write takes milliseconds; this also covers writers of other machines or
# containers sharing the store, whose processes cannot be checked from here).
INCOMING_MAX_AGE = 3600.0
# Concurrent fsync calls of one batch (the file system groups them).
_SYNC_THREADS = 16
# Concurrent uploads of one batch to the object store (each a HEAD, then a
# PUT when the blob is new); botocore's default connection pool holds 10.
_UPLOAD_THREADS = 10


def _sync_path(path: str) -> None:
    """fsync a file or a directory by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _process_is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class DurableFileSystemStorage(FileSystemStorage):
    """A file-system storage whose writes are atomic and fsync'ed, and which
    never renames: a name that exists already holds the same bytes."""

    _incoming_cleaned = False

    def _save(self, name: str, content: File) -> str:  # type: ignore[type-arg]
        path = self.path(name)
        if os.path.exists(path):
            return name
        temporary = self.write_incoming(content.chunks(), sync=True)
        try:
            directories = self.install(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        for directory in directories:
            _sync_path(directory)
        return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Content-addressed: the same name means the same bytes.
        return name

    # --- The staging folder -----------------------------------------------------------

    def incoming_path(self) -> str:
        """The staging folder's path (created on first use)."""
        return os.path.join(self.location, INCOMING)

    def write_incoming(self, chunks: Iterable[bytes], *, sync: bool) -> str:
        """Write bytes to a new temporary file of the staging folder (fsync'ed
        when `sync`); return its path. Its name says which process wrote it."""
        if not self._incoming_cleaned:
            self.clean_incoming()
        staging = self.incoming_path()
        os.makedirs(staging, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            dir=staging, prefix=f"{_INCOMING_PREFIX}{socket.gethostname()}-{os.getpid()}-"
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return temporary

    def install(self, temporary: str, path: str) -> list[str]:
        """Rename a temporary file to its place in the store, creating its
        directories; return the directories to fsync for the rename (and the
        creations) to be durable: the file's own, and the parent of each
        directory created for it."""
        directory = os.path.dirname(path)
        created = []
        current = directory
        while not os.path.isdir(current):
            created.append(current)
            current = os.path.dirname(current)
        for missing in reversed(created):
            with contextlib.suppress(FileExistsError):
                os.mkdir(missing)
        os.replace(temporary, path)
        return [directory, *(os.path.dirname(item) for item in created)]

    def clean_incoming(self) -> int:
        """Remove the temporary files that writers killed half-way (SIGKILL,
        power cut) left in the staging folder: those of this machine whose
        process is gone, and any older than `INCOMING_MAX_AGE`. They never
        hold anything a database row refers to — a blob is only named once it
        is in its place. Return how many were removed."""
        self._incoming_cleaned = True
        host = socket.gethostname()
        now = time.time()
        removed = 0
        try:
            entries = list(os.scandir(self.incoming_path()))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not entry.name.startswith(_INCOMING_PREFIX):
                continue
            # .incoming-<host>-<pid>-<random>; the host name may hold dashes.
            writer, _dash, _random = entry.name[len(_INCOMING_PREFIX) :].rpartition("-")
            writer_host, _dash, pid = writer.rpartition("-")
            try:
                stale = now - entry.stat().st_mtime > INCOMING_MAX_AGE or (
                    writer_host == host and pid.isdigit() and not _process_is_alive(int(pid))
                )
                if stale:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # removed by another cleaner meanwhile
        return removed


class S3BlobStorage(PrivateS3Storage):
    """The raw store in a bucket of an S3-compatible object store. Names are
    content-addressed as on disk: a name that exists holds the same bytes, so
    it is never renamed, and `blob_put` never uploads it twice."""

    file_overwrite = True

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Content-addressed: the same name means the same bytes.
        return name

    def put_new(self, blobs: dict[str, bytes]) -> None:
        """Upload those of `blobs` (name → bytes) the bucket does not hold yet,
        concurrently; return once every PUT has succeeded, else raise the
        first failure (`ObjectStoreError`)."""
        if not blobs:
            return
        # One client for the threads: boto3 clients are thread-safe (its
        # resources, behind `self.connection`, are not shared across threads).
        client = self.connection.meta.client

        def put(item: tuple[str, bytes]) -> None:
            name, data = item
            key = self.object_key(name)
            with self.errors("look up", name):
                try:
                    client.head_object(Bucket=self.bucket_name, Key=key)
                    return
                except ClientError as error:
                    if not is_missing(error):
                        raise
            with self.errors("write", name):
                client.put_object(Bucket=self.bucket_name, Key=key, Body=data)

        with ThreadPoolExecutor(max_workers=min(_UPLOAD_THREADS, len(blobs))) as executor:
            list(executor.map(put, blobs.items()))

    def read_bytes(self, name: str) -> bytes:
        """The whole object, in one GET."""
        with self.errors("read", name):
            response = self.connection.meta.client.get_object(
                Bucket=self.bucket_name, Key=self.object_key(name)
            )
            data: bytes = response["Body"].read()
        return data


class BlobBatch:
    """Blobs written by a bulk writer and made durable together by `flush`,
    which must run before the database transaction naming them commits.
    Until then, `read` gives their bytes; `discard` forgets them."""

    def put(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def read(self, name: str) -> bytes | None:
        """The bytes of a blob of this batch not yet in its place, else None."""
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Forget the batch's blobs (their transaction was rolled back)."""
        raise NotImplementedError


class S3BlobBatch(BlobBatch):
    """A batch for the object store: the blobs wait in memory (a batch of
    `lanterne import-mail` is bounded in bytes) and `flush` uploads those
    the bucket lacks, concurrently."""

    def __init__(self, storage: S3BlobStorage) -> None:
        self.storage = storage
        self.pending: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> None:
        self.pending.setdefault(name, data)

    def read(self, name: str) -> bytes | None:
        return self.pending.get(name)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        self.storage.put_new(pending)

    def discard(self) -> None:
        self.pending = {}


class FileSystemBlobBatch(BlobBatch):
    """A batch on local disk: its blobs are temporary files of the staging
    folder that nothing else can see until `flush` syncs them and renames
    them into place."""

    def __init__(self, storage: DurableFileSystemStorage) -> None:
        self.storage = storage
        self.pending: dict[str, str] = {}  # path in the store → temporary file

    def put(self, name: str, data: bytes) -> None:
        path = self.storage.path(name)
        if path in self.pending or os.path.exists(path):
            return
        self.pending[path] = self.storage.write_incoming([data], sync=False)

    def read(self, name: str) -> bytes | None:
        temporary = self.pending.get(self.storage.path(name))
        if temporary is None:
            return None
        with open(temporary, "rb") as handle:
            return handle.read()

    def flush(self) -> None:
        """Make every blob of the batch durable in its place: sync the
        temporary files, rename them, sync the directories that changed.
        The syncs run concurrently, which the file system turns into a few
        journal commits."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        with ThreadPoolExecutor(max_workers=min(_SYNC_THREADS, len(pending))) as executor:
            try:
                list(executor.map(_sync_path, pending.values()))
                directories: set[str] = set()
                for path, temporary in pending.items():
                    directories.update(self.storage.install(temporary, path))
            except BaseException:
                for temporary in pending.values():
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary)
                raise
            list(executor.map(_sync_path, directories))

    def discard(self) -> None:
        pending, self.pending = self.pending, {}
        for temporary in pending.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


_batch: ContextVar[BlobBatch | None] = ContextVar("lanterne_blob_batch", default=None)


def _storage() -> Any:
    return storages["mail"]


@contextlib.contextmanager
def blob_batch() -> Iterator[BlobBatch | None]:
    """Group the `blob_put` calls made inside into one `BlobBatch` (None when
    the store is neither on local disk nor in a bucket: writes are then
    immediate). The caller calls `flush()` before each database commit;
    blobs left unflushed when the block ends are discarded."""
    storage = _storage()
    batch: BlobBatch
    if isinstance(storage, DurableFileSystemStorage):
        batch = FileSystemBlobBatch(storage)
    elif isinstance(storage, S3BlobStorage):
        batch = S3BlobBatch(storage)
    else:
        yield None
        return
    token = _batch.set(batch)
    try:
        yield batch
    finally:
        _batch.reset(token)
        batch.discard()


def blob_store_clean() -> int:
    """Remove what killed writers left in the staging folder (see
    `DurableFileSystemStorage.clean_incoming`); 0 for other backends."""
    storage = _storage()
    if isinstance(storage, DurableFileSystemStorage):
        return storage.clean_incoming()
    return 0


def blob_name(kind: str, sha256: str) -> str:
    """Where bytes of this digest live: `raw/ab/cd/abcd…` or `attachments/ab/cd/abcd…`."""
    return f"{kind}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blob_put(data: bytes, *, kind: str) -> tuple[str, str]:
    """Store `data` durably (or in the current `blob_batch`); return its
    sha256 and its name in the store."""
    sha256 = hashlib.sha256(data).hexdigest()
    name = blob_name(kind, sha256)
    batch = _batch.get()
    if batch is not None:
        batch.put(name, data)
        return sha256, name
    storage = _storage()
    if not storage.exists(name):
        storage.save(name, ContentFile(data))
    return sha256, name


def blob_read(name: str) -> bytes:
    """The bytes stored under `name`."""
    batch = _batch.get()
    if batch is not None:
        data = batch.read(name)
        if data is not None:
            return data
    storage = _storage()
    if isinstance(storage, S3BlobStorage):
        return storage.read_bytes(name)
    with storage.open(name, "rb") as handle:
        stored: bytes = handle.read()
    return stored


def blob_open(name: str) -> IO[bytes]:
    """A file object on the bytes stored under `name` (for streaming downloads)."""
    handle: IO[bytes] = _storage().open(name, "rb")
    return handle
