"""The complex's pseudonym key: read it from its file, or make a new file.

The key turns member card numbers into pseudonyms
(:func:`facility_contracts.vitals.pseudonymise`: ``m1-`` + 32 hex digits of
HMAC-SHA256). One key per complex, kept on the edge board (and at the enrolment desk)
only: whoever holds it can test card numbers against pseudonyms, so it never leaves
the complex. Losing it makes new pseudonyms differ from the enrolled ones.

File format (:func:`parse_key`; one reading only, so a key never silently becomes
another): 32 random bytes as **exactly 64 hex digits** (``0-9``, ``a-f`` or ``A-F``),
optionally surrounded by whitespace and newlines: what :func:`new_key_file` and
``openssl rand -hex 32`` write. A UTF-8 byte order mark before the digits (Windows
Notepad) is ignored with a warning. Refused, naming the file and the problem (never the
key): a ``0x`` prefix, whitespace or any other character among the digits, an odd
number of digits, any count but 64, UTF-16 text. A file that is not text (not UTF-8, or
with control characters) is a raw binary key and must be exactly 32 bytes. The file must
not be readable or writable by others (mode 0600, or 0640 with the agent's group):
:func:`load_key` refuses it otherwise.

One-liner equivalent of :func:`new_key_file`::

    (umask 077; openssl rand -hex 32 > /etc/facility-edge/pseudonym.key)
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from facility_contracts.errors import ContractError
from facility_contracts.vitals import pseudonymise

from facility_edge.config import EdgeConfig
from facility_edge.errors import ConfigError

logger = logging.getLogger(__name__)

#: Bytes of a key (256 bits, the HMAC-SHA256 block's half); hex text: twice as many digits.
NEW_KEY_BYTES = 32
KEY_HEX_DIGITS = 2 * NEW_KEY_BYTES
_BOM = b"\xef\xbb\xbf"
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
#: Control characters that text may hold: whitespace.
_TEXT_CONTROLS = frozenset("\t\n\r\v\f")


class KeyFileError(ConfigError):
    """The pseudonym key file is missing, unreadable, not in the format or open to others.

    Its message is ``FILE: problem`` (never the key itself).
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(str(path), [problem])


def parse_key(data: bytes) -> bytes:
    """The 32-byte key in a key file's bytes (format: see the module docstring).

    Raises:
        ValueError: what is wrong, as ``pseudonym key file <problem>`` reads; it never
            shows a digit or byte of the key.
    """
    text = _as_text(data)
    if text is not None:
        return _hex_key(text)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("is UTF-16 text; save the 64 hex digits as plain ASCII text")
    if len(data) != NEW_KEY_BYTES:
        raise ValueError(
            f"holds {len(data)} bytes that are not text; a raw binary key is exactly "
            f"{NEW_KEY_BYTES} bytes (hex text: exactly {KEY_HEX_DIGITS} hex digits)"
        )
    return data


def _as_text(data: bytes) -> str | None:
    """``data`` as text (UTF-8, a byte order mark dropped), or None when it is not text:
    not UTF-8, or holding control characters other than whitespace."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    controls = (c for c in text if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0))
    return None if any(c not in _TEXT_CONTROLS for c in controls) else text


def _hex_key(text: str) -> bytes:
    """The key in hex text: exactly 64 hex digits, whitespace around them only."""
    digits = text.strip()
    if not digits:
        raise ValueError("is empty or blank (no hex digits)")
    if digits[:2] in ("0x", "0X"):
        raise ValueError(f"starts with 0x; write the {KEY_HEX_DIGITS} hex digits alone")
    bad = _NOT_HEX.search(digits)
    skipped = len(text) - len(text.lstrip())  # count characters from the file's start
    if bad is not None:
        what = "whitespace" if bad.group().isspace() else "a character that is not a hex digit"
        raise ValueError(
            f"has {what} at character {skipped + bad.start() + 1} of its text; a key file holds "
            f"exactly {KEY_HEX_DIGITS} hex digits (0-9, a-f) and nothing else"
        )
    if len(digits) != KEY_HEX_DIGITS:
        odd = " (an odd number: a digit missing or extra?)" if len(digits) % 2 else ""
        raise ValueError(
            f"holds {len(digits)} hex digits{odd}; a key file holds exactly "
            f"{KEY_HEX_DIGITS} ({NEW_KEY_BYTES} bytes, as `new-key` writes them)"
        )
    return bytes.fromhex(digits)


def load_key(path: Path) -> bytes:
    """Read the pseudonym key from ``path``.

    Raises:
        KeyFileError: missing or unreadable file, mode open to others (``o+r`` or
            ``o+w``), or content not in the key file format (:func:`parse_key`).
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
            path,
            "pseudonym key file missing; make one with `facility edge new-key --out FILE` "
            "(on a board: `python -m facility_edge new-key --out FILE`)",
        ) from exc
    except OSError as exc:
        raise KeyFileError(path, f"pseudonym key file unreadable: {exc.strerror}") from exc
    try:
        key = parse_key(data)
    except ValueError as exc:
        raise KeyFileError(path, f"pseudonym key file {exc}") from exc
    if data.startswith(_BOM) and key != data:
        logger.warning("%s: UTF-8 byte order mark before the key's hex digits ignored", path)
    return key


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


def print_pseudonyms(key_file: Path, lines: Iterable[str], out: TextIO, err: TextIO) -> int:
    """The enrolment desk's command: exactly one output line per input line, in order.

    Output line ``N`` is the pseudonym of input line ``N``'s card number, an empty line
    for a blank input line, or ``error: <problem> (line N)`` for a bad card number (the
    card is never shown); every line is handled, so outputs stay aligned with inputs.

    Returns:
        The exit code: 0; 2 after the last line when a line was bad (their numbers on
        ``err``); 2 at once, nothing on ``out``, for an unusable key file.
    """
    try:
        key = load_key(key_file)
    except KeyFileError as exc:
        print(exc, file=err)
        return 2
    bad: list[int] = []
    for n, line in enumerate(lines, start=1):
        card = line.strip()
        try:
            print(pseudonymise(card, key) if card else "", file=out)
        except ContractError as exc:
            bad.append(n)
            print(f"error: {exc.message} (line {n})", file=out)
    if bad:
        listed = ", ".join(map(str, bad[:20])) + (", ..." if len(bad) > 20 else "")
        print(f"{len(bad)} bad card number(s), no pseudonym on line(s) {listed}", file=err)
        return 2
    return 0


def make_key_file(path: Path, out: TextIO, err: TextIO) -> int:
    """The key command: :func:`new_key_file`, reported; returns the exit code (0 or 2)."""
    try:
        new_key_file(path)
    except KeyFileError as exc:
        print(exc, file=err)
        return 2
    print(
        f"{path}: new pseudonym key written (mode 0600); give it to the agent's group "
        "with chgrp and chmod 640",
        file=out,
    )
    return 0
