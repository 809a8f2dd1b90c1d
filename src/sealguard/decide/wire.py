"""The SSH wire encoding (RFC 4251 §5) that keys, signatures and the agent protocol share."""

import struct


def uint32(value: int) -> bytes:
    return struct.pack(">I", value)


def string(value: bytes | str) -> bytes:
    """An SSH `string`: a big-endian uint32 length, then the bytes."""
    raw = value.encode() if isinstance(value, str) else value
    return uint32(len(raw)) + raw


class WireError(ValueError):
    """The bytes do not hold what the reader was asked for (short, or left over)."""


class Reader:
    """Reads SSH wire fields from the front of a byte string."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def raw(self, size: int) -> bytes:
        end = self._at + size
        if end > len(self._data):
            raise WireError(f"needs {size} bytes at offset {self._at}, has {self.left()}")
        chunk, self._at = self._data[self._at : end], end
        return chunk

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.raw(4))[0]
        return value

    def byte(self) -> int:
        return self.raw(1)[0]

    def string(self) -> bytes:
        return self.raw(self.uint32())

    def text(self) -> str:
        try:
            return self.string().decode()
        except UnicodeDecodeError as exc:
            raise WireError(f"a name is not UTF-8: {exc}") from None

    def left(self) -> int:
        return len(self._data) - self._at

    def end(self) -> None:
        """The reader must have consumed everything: trailing bytes are malformed input."""
        if self.left():
            raise WireError(f"{self.left()} unexpected bytes at the end")
