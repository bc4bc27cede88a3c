"""The raw store: content-addressed, durable, never renaming."""

from __future__ import annotations

import hashlib
import os
import re

from django.core.files.storage import storages

from lanterne.mail.storage import blob_name, blob_put, blob_read


def test_same_bytes_are_stored_once_under_their_digest() -> None:
    data = b"From: a@b.fr\r\nSubject: test\r\n\r\nbonjour\r\n"
    sha, name = blob_put(data, kind="raw")
    assert sha == hashlib.sha256(data).hexdigest()
    assert name == blob_name("raw", sha) == f"raw/{sha[:2]}/{sha[2:4]}/{sha}"
    again = blob_put(data, kind="raw")
    assert again == (sha, name)
    directory = os.path.dirname(storages["mail"].path(name))
    # No second copy, no leftover temporary file (other tests' blobs may share
    # the directory: it holds every digest starting with the same 4 digits).
    entries = os.listdir(directory)
    assert entries.count(sha) == 1
    assert all(re.fullmatch(r"[0-9a-f]{64}", entry) for entry in entries)
    assert blob_read(name) == data


def test_different_bytes_get_different_names() -> None:
    first = blob_put(b"un", kind="attachments")
    second = blob_put(b"deux", kind="attachments")
    assert first[1] != second[1]
    assert blob_read(first[1]) == b"un" and blob_read(second[1]) == b"deux"
