"""The complex's pseudonym key: read it from its file, or make a new file.

The key turns member card numbers into pseudonyms
(:func:`facility_contracts.vitals.pseudonymise`: ``m1-`` + 32 hex digits of
HMAC-SHA256). One key per complex, kept on the edge board (and at the enrolment desk)
only: whoever holds it can test card numbers against pseudonyms, so it never leaves
the complex. Losing it makes new pseudonyms differ from the enrolled ones.

File format: at least :data:`~facility_contracts.vitals.MIN_KEY_BYTES` (16) random
bytes, either as hex text (``0-9a-f``, an even number of digits, surrounding
whitespace ignored; what :func:`new_key_file` writes: 32 bytes = 64 digits) or raw
binary. The file must not be readable or writable by others (mode 0600, or 0640 with
the agent's group): :func:`load_key` refuses it otherwise.

One-liner equivalent of :func:`new_key_file`::

    (umask 077; openssl rand -hex 32 > /etc/facility-edge/pseudonym.key)
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from facility_contracts.errors import ContractError
from facility_contracts.vitals import MIN_KEY_BYTES, pseudonymise

from facility_edge.config import EdgeConfig
from facility_edge.errors import ConfigError

#: Bytes of a key made by :func:`new_key_file` (256 bits, the HMAC-SHA256 block's half).
NEW_KEY_BYTES = 32
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2})+")


class KeyFileError(ConfigError):
    """The pseudonym key file is missing, unreadable, too short or open to others.

    Its message is ``FILE: problem`` (never the key itself).
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(str(path), [problem])


def parse_key(data: bytes) -> bytes:
    """The key in a key file's bytes: hex text decoded, otherwise the raw bytes.

    Raises:
        ValueError: fewer than 16 key bytes.
    """
    text = data.strip()
    key = bytes.fromhex(text.decode()) if _HEX.fullmatch(text) else data
    if len(key) < MIN_KEY_BYTES:
        form = "as hex text" if key is not data else "raw"
        raise ValueError(
            f"holds {len(key)} key bytes ({form}); at least {MIN_KEY_BYTES} random bytes needed"
        )
    return key


def load_key(path: Path) -> bytes:
    """Read the pseudonym key from ``path``.

    Raises:
        KeyFileError: missing or unreadable file, mode open to others (``o+r`` or
            ``o+w``), or fewer than 16 key bytes.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(path, "pseudonym key file: not a regular file")
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            raise KeyFileError(
                path,
                f"pseudonym key file is open to other users (mode {stat.S_IMODE(mode):04o}); "
                "chmod 600 (or 640 with the agent's group)",
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(
            path, "pseudonym key file missing; make one with `facility edge new-key --out FILE`"
        ) from exc
    except OSError as exc:
        raise KeyFileError(path, f"pseudonym key file unreadable: {exc.strerror}") from exc
    try:
        return parse_key(data)
    except ValueError as exc:
        raise KeyFileError(path, f"pseudonym key file {exc}") from exc


def new_key_file(path: Path) -> None:
    """Write a new random key (32 bytes as 64 hex digits and a newline), mode 0600.

    Raises:
        KeyFileError: the file exists (a key is never overwritten: pseudonyms made with
            it would stop matching) or cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(
            path, "exists; a key is never overwritten (enrolled pseudonyms would stop matching)"
        ) from exc
    except OSError as exc:
        raise KeyFileError(path, f"cannot create: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(NEW_KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def check_key_files(cfg: EdgeConfig) -> None:
    """Load the key file of every ``health_kiosk`` device (before the agent starts).

    Raises:
        KeyFileError: for the first key file that cannot be used.
    """
    for dev in cfg.devices:
        if dev.type == "health_kiosk":
            load_key(dev.key_file)


def print_pseudonyms(key_file: Path, cards: Iterable[str], out: TextIO, err: TextIO) -> int:
    """The enrolment desk's command: one pseudonym per card number (blank lines skipped).

    Returns:
        The exit code: 0, or 2 for an unusable key file or a bad card number (named by
        its position among the cards, never shown) after which nothing more is printed.
    """

    def run() -> None:
        key = load_key(key_file)
        for n, card in enumerate((c.strip() for c in cards if c.strip()), start=1):
            try:
                print(pseudonymise(card, key), file=out)
            except ContractError as exc:
                raise _Refused(f"card {n}: {exc.message}") from exc

    return _reported(run, err)


def make_key_file(path: Path, out: TextIO, err: TextIO) -> int:
    """The key command: :func:`new_key_file`, reported; returns the exit code (0 or 2)."""

    def run() -> None:
        new_key_file(path)
        print(
            f"{path}: new pseudonym key written (mode 0600); give it to the agent's group "
            "with chgrp and chmod 640",
            file=out,
        )

    return _reported(run, err)


class _Refused(Exception):
    """A command's problem, already worded for its user."""


def _reported(run: Callable[[], None], err: TextIO) -> int:
    """Run a key command: 0, or 2 after printing why it was refused."""
    try:
        run()
    except (KeyFileError, _Refused) as exc:
        print(exc, file=err)
        return 2
    return 0
