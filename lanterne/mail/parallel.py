"""The parse stage as a pure function, and worker processes running it for
bulk imports.

`parse_stored` is the whole parse stage — bytes in, a `ParseOutcome` out, no
database — which `raw_message_process` runs in its own process, and which
`ParseWorkers` runs in other processes while an import stores messages and
writes rows, so that a long import (`lanterne import-mail`) uses more than one
CPU. Results come back in the order the messages were submitted, so the
import saves them in file order exactly as it would parsing them itself (the
first copy of a Message-ID stays the message, later copies are its
duplicates). The workers also read each message's text as the learned
suggestions will (`suggest_text.prepared_text`): the importing process, which
the workers wait for, then has that much less to do in its file stage.

This module imports no Django: a worker is a fresh interpreter ("spawn") that
loads only the parser. Each one reads its tasks from a pipe whose other end
only the parent holds: when the parent dies — even killed with SIGKILL — the
pipe closes and the worker exits on its own."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from .parsing import (
    MailParseError,
    MailTooLargeError,
    ParsedMessage,
    parse_message,
    parse_outlook_msg,
)
from .suggest_text import PreparedText, prepared_text


@dataclass(frozen=True)
class ParseOutcome:
    """What the parse stage made of one message's bytes: a `ParsedMessage`,
    or the reason there is none."""

    parsed: ParsedMessage | None
    refused: bool = False  # a parse limit was exceeded: the message is refused
    error: str = ""  # why it could not be parsed, for staff (quarantine)
    unexpected: str = ""  # the traceback of an error of ours, for the log
    # Its text as the learned suggestions read it, when a parse worker
    # prepared it (`_work`).
    text: PreparedText | None = None


def parse_stored(data: bytes, *, outlook: bool) -> ParseOutcome:
    """Parse the stored bytes of one message (an Outlook .msg file when
    `outlook`). Never raises: a message that breaks the parser is reported,
    so that it is quarantined, never a crash loop."""
    try:
        parsed = parse_outlook_msg(data) if outlook else parse_message(data)
    except MailTooLargeError as error:
        return ParseOutcome(None, refused=True, error=str(error))
    except MailParseError as error:
        return ParseOutcome(None, error=str(error))
    except Exception as error:  # noqa: BLE001 — one bad message must not stop the others
        return ParseOutcome(
            None, error=f"{type(error).__name__}: {error}", unexpected=traceback.format_exc()
        )
    return ParseOutcome(parsed)


def _work(tasks: Connection) -> None:
    """A worker's life: parse the batches that come through the pipe, send
    back their outcomes, until the pipe closes (the parent finished, or died)."""
    # Ctrl-C is the parent's to handle: it stops the workers by closing the pipes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(EOFError, OSError):
        while True:
            batch: list[tuple[bytes, bool]] | None = tasks.recv()
            if batch is None:
                return
            tasks.send([_parse_and_prepare(data, outlook=outlook) for data, outlook in batch])


def _parse_and_prepare(data: bytes, *, outlook: bool) -> ParseOutcome:
    """`parse_stored`, and the text of what it parsed prepared for the
    suggestions (never failing the message: the file stage reads the text
    itself when it is not prepared)."""
    outcome = parse_stored(data, outlook=outlook)
    if outcome.parsed is None:
        return outcome
    try:
        text = prepared_text(outcome.parsed)
    except Exception:  # noqa: BLE001 — a preparation is an optimisation, not a stage
        return outcome
    return dataclasses.replace(outcome, text=text)


def default_parse_processes() -> int:
    """Parse workers for a bulk import: one per CPU this process may use, at
    most 4; 0 on one CPU. The importing process mostly waits for them (it
    stores and saves a batch in a fraction of the time its parse takes), so
    it does not keep a CPU for itself."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 0 if cpus <= 1 else min(4, cpus)


class ParseWorkers:
    """`count` processes parsing batches of messages.

    `map_start` shares a batch out among the workers (contiguous slices) and
    returns at once; `map_collect` waits for the outcomes, in the batch's
    order. One batch at a time: the caller saves the previous batch while
    the workers parse the next one.

    Workers are started with multiprocessing's "spawn": like any program
    using it, a script that starts them must guard its entry point with
    `if __name__ == "__main__":` (the `lanterne` command does)."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[BaseProcess, Connection]] = []
        try:
            for _ in range(count):
                ours, theirs = context.Pipe(duplex=True)
                process = context.Process(
                    target=_work, args=(theirs,), name="lanterne-parse", daemon=True
                )
                process.start()
                theirs.close()  # the worker's end lives in the worker only
                self._workers.append((process, ours))
        except BaseException:
            self.close()
            raise
        self._busy: list[Connection] = []  # the workers given a slice, in order

    def map_start(self, tasks: Sequence[tuple[bytes, bool]]) -> None:
        """Hand out a batch of (bytes, is an Outlook .msg) to parse."""
        if self._busy:
            raise RuntimeError("The previous batch was not collected.")
        size = -(-len(tasks) // len(self._workers)) if tasks else 0
        for index, (_process, connection) in enumerate(self._workers):
            part = list(tasks[index * size : (index + 1) * size])
            if part:
                connection.send(part)
                self._busy.append(connection)

    def map_collect(self) -> list[ParseOutcome]:
        """The outcomes of the batch handed out last, in its order (waits)."""
        outcomes: list[ParseOutcome] = []
        busy, self._busy = self._busy, []
        for connection in busy:
            try:
                outcomes.extend(connection.recv())
            except EOFError as error:
                raise RuntimeError("A parse worker stopped unexpectedly.") from error
        return outcomes

    def close(self) -> None:
        """Stop the workers (outcomes not collected are dropped)."""
        for process, connection in self._workers:
            with contextlib.suppress(OSError):
                connection.send(None)
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self._workers = []

    def __enter__(self) -> ParseWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
