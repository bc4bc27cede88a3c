"""Lanterne's files on S3-compatible object storage (chosen by settings:
`LANTERNE_STORAGE=s3`, see the STORAGES section of lanterne/settings.py).

One bucket holds everything, under one prefix per storage: documents under
`files/`, raw mail and attachment blobs under `mail/`
(`lanterne.mail.storage.S3BlobStorage`). Objects are private: written without
an ACL (the bucket's own, private, applies), never given a URL — `url()`
refuses, so no page can ever send a co-owner to the bucket, signed or not.
Every download goes through Lanterne's views and their access checks, which
stream the object from the bucket (`S3ObjectReader`) as they send it.

Errors of the store (unreachable endpoint, refused credentials, missing
bucket) are raised as `ObjectStoreError`, an `OSError` naming the bucket and
the endpoint: Lanterne treats them as it treats a failing disk."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# What a download reads from the bucket at a time (one buffered read of the
# response body), and so what it holds in memory per request.
READ_BUFFER_BYTES = 256 * 1024


class ObjectStoreError(OSError):
    """The object store failed (or refused) an operation. The message says
    which store, which object and what the store answered."""


def is_missing(error: ClientError) -> bool:
    """Whether the store answered that the key does not exist (a HEAD's bare
    404, a GET's NoSuchKey) — not that the bucket does not (NoSuchBucket)."""
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class S3ObjectReader(io.RawIOBase):
    """An object of the store read from its start, fetched while it is read.

    One GET (from the current position, with a `Range`) is opened on the
    first read, and its body read as the caller reads: a download streams
    from the bucket to the browser without holding the object. Seeking only
    moves the position — nothing is fetched until the next read — so Django's
    `FileResponse` measures the length (seek to the end, tell, seek back)
    at no cost."""

    def __init__(
        self, s3_object: Any, *, size: int, etag: str, storage: PrivateS3Storage, name: str
    ) -> None:
        super().__init__()
        self._object = s3_object
        self._storage = storage
        self._name = name
        self._size = size
        # The version that was measured: a GET of another one fails rather
        # than mixing two versions' bytes.
        self._etag = etag
        self._position = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        if position != self._position:
            self._drop_body()
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        wanted = len(buffer)
        if wanted == 0 or self._position >= self._size:
            return 0
        with self._storage.errors("read", self._name):
            if self._body is None:
                response = self._object.get(Range=f"bytes={self._position}-", IfMatch=self._etag)
                self._body = response["Body"]
            data = self._body.read(min(wanted, self._size - self._position))
        if not data:
            raise ObjectStoreError(
                f"{self._storage.describe()} ended {self._name} at byte {self._position} "
                f"of {self._size}"
            )
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        # The rest of the object in one read of the body, not by 8 KiB reads.
        if self._position >= self._size:
            return b""
        chunks = []
        while chunk := self.read(self._size - self._position):
            chunks.append(chunk)
        return b"".join(chunks)

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    def close(self) -> None:
        self._drop_body()
        super().close()


class PrivateS3Storage(S3Storage):  # type: ignore[misc]
    """Django storage of private objects in one bucket, under a prefix
    (`location`). Used as is for documents (`STORAGES["default"]`), whose
    names are not unique: a name already taken gets a suffix, as on disk."""

    # No ACL: the bucket's (private) applies. Signed URLs only, were a URL
    # ever made — `url()` refuses anyway.
    default_acl = None
    querystring_auth = True
    file_overwrite = False

    def describe(self) -> str:
        """The store as an error message names it."""
        endpoint = self.endpoint_url or "AWS S3"
        return f"S3 bucket {self.bucket_name!r} at {endpoint}"

    @contextlib.contextmanager
    def errors(self, action: str, name: str) -> Iterator[None]:
        """Raise the store's errors as `ObjectStoreError` (a 404 as
        `FileNotFoundError`), saying what failed where."""
        try:
            yield
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(f"{name}: not in {self.describe()}") from error
            raise ObjectStoreError(
                f"{self.describe()} refused to {action} {name}: {error}"
            ) from error
        except BotoCoreError as error:
            raise ObjectStoreError(
                f"{self.describe()}: could not {action} {name}: {error}"
            ) from error

    def object_key(self, name: str) -> str:
        """The object's key in the bucket: the prefix, then the name."""
        key: str = self._normalize_name(clean_name(name))
        return key

    def _open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        if mode != "rb":
            with self.errors("open", name):
                return super()._open(name, mode)  # type: ignore[no-any-return]
        # From this thread's own connection: boto3 resources, such as the
        # `bucket` S3Storage keeps, are not to be shared between threads.
        s3_object = self.connection.Object(self.bucket_name, self.object_key(name))
        with self.errors("read", name):
            s3_object.load()
        size = s3_object.content_length
        reader = S3ObjectReader(s3_object, size=size, etag=s3_object.e_tag, storage=self, name=name)
        handle = File(io.BufferedReader(reader, buffer_size=READ_BUFFER_BYTES), name=name)
        handle.size = size
        return handle

    def _save(self, name: str, content: File) -> str:  # type: ignore[type-arg]
        with self.errors("write", name):
            return super()._save(name, content)  # type: ignore[no-any-return]

    def exists(self, name: str) -> bool:
        try:
            with self.errors("look up", name):
                return super().exists(name)  # type: ignore[no-any-return]
        except FileNotFoundError:
            return False

    def delete(self, name: str) -> None:
        with self.errors("delete", name):
            super().delete(name)

    def size(self, name: str) -> int:
        with self.errors("measure", name):
            return super().size(name)  # type: ignore[no-any-return]

    def url(self, name: str, *args: Any, **kwargs: Any) -> str:
        raise NotImplementedError(
            "Lanterne's stored files have no URL: they are served by its views, "
            "after the access checks."
        )
