"""Sans-I/O splitting of a byte stream into start/end delimited frames.

Serial lines deliver noise, partial frames and frames cut by an unplug. The splitter
keeps at most ``max_len`` bytes of an unfinished frame, resynchronises on every start
byte, and reports what it skipped so the reader can count it. It never half-parses:
a candidate is either returned whole (start byte to end marker inclusive) or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FrameError(ValueError):
    """A candidate frame that is not valid (bad checksum, bad field, bad length).

    Attributes:
        reason: short label for counters (``checksum``, ``syntax``, ``field``, ``length``).
        frame: the offending bytes.
    """

    def __init__(self, reason: str, message: str, frame: bytes = b"") -> None:
        self.reason = reason
        self.frame = frame
        super().__init__(f"{reason}: {message} (frame {frame[:60]!r})")


@dataclass(slots=True)
class SplitResult:
    """What one :meth:`FrameSplitter.feed` produced.

    Attributes:
        frames: complete candidates, start byte to end marker inclusive, in order.
        skipped: bytes discarded as noise between frames.
        dropped: unfinished or overlong candidates that were abandoned.
    """

    frames: list[bytes] = field(default_factory=list)
    skipped: int = 0
    dropped: int = 0


class FrameSplitter:
    """Split a stream on a start byte and an end marker.

    Args:
        start: the byte that opens a frame (``b"$"``, ``b"\\x02"``).
        end: the marker that closes it (``b"\\r\\n"``, ``b"\\x03"``).
        max_len: the longest valid frame, bytes; a longer candidate is dropped.
    """

    def __init__(self, start: bytes, end: bytes, max_len: int) -> None:
        if len(start) != 1 or not end:
            raise ValueError("start must be one byte and end non-empty")
        self._start = start
        self._end = end
        self._max = max_len
        self._buf = bytearray()

    def reset(self) -> int:
        """Forget a partial frame (after an unplug); returns the bytes dropped."""
        n = len(self._buf)
        self._buf.clear()
        return n

    def feed(self, data: bytes) -> SplitResult:
        """Add bytes; return the complete candidates and what was skipped."""
        out = SplitResult()
        buf = self._buf
        buf += data
        pos = 0
        while True:
            s = buf.find(self._start, pos)
            if s < 0:
                out.skipped += len(buf) - pos
                pos = len(buf)
                break
            out.skipped += s - pos
            nxt = buf.find(self._start, s + 1)
            e = buf.find(self._end, s + 1)
            if e >= 0 and (nxt < 0 or e < nxt):
                stop = e + len(self._end)
                if stop - s > self._max:
                    out.dropped += 1
                else:
                    out.frames.append(bytes(buf[s:stop]))
                pos = stop
                continue
            if nxt >= 0:  # a new start before this frame ended: the first was cut short
                out.dropped += 1
                pos = nxt
                continue
            if len(buf) - s > self._max:  # no end in sight within the longest frame
                out.dropped += 1
                pos = len(buf)
                break
            pos = s
            break
        del buf[:pos]
        return out
