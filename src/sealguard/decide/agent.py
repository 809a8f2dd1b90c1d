"""A small ssh-agent client: list the agent's keys and ask it to sign.

The protocol (draft-miller-ssh-agent) is a length-prefixed message over the unix socket named
by SSH_AUTH_SOCK. The private key never leaves the agent, so keys on hardware or behind a
confirmation prompt (`ssh-add -c`) sign decisions as they sign anything else.
"""

import os
import socket
from collections.abc import Mapping

from sealguard.decide.keys import PublicKey, SshKeyError
from sealguard.decide.wire import Reader, WireError, string, uint32
from sealguard.errors import UsageError

_FAILURE = 5
_REQUEST_IDENTITIES = 11
_IDENTITIES_ANSWER = 12
_SIGN_REQUEST = 13
_SIGN_RESPONSE = 14
_MAX_MESSAGE = 256 * 1024  # OpenSSH's own limit on an agent message
TIMEOUT = 120.0  # long enough for a person to answer a confirmation prompt


class AgentError(UsageError):
    """No agent, an agent that cannot be reached, or one that will not sign (exit 64)."""


def agent_socket(environ: Mapping[str, str] = os.environ) -> str:
    """The agent's socket path from SSH_AUTH_SOCK."""
    path = environ.get("SSH_AUTH_SOCK", "")
    if not path:
        raise AgentError(
            "no ssh-agent: SSH_AUTH_SOCK is not set "
            "(start one with `eval $(ssh-agent)` and `ssh-add KEY`, or sign with a key file)"
        )
    return path


class Agent:
    """The ssh-agent listening on `path`; each request is one short connection."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout

    def keys(self) -> list[PublicKey]:
        """The agent's ed25519 keys, with their comments; keys of other types are skipped."""
        reader = self._request(bytes([_REQUEST_IDENTITIES]), _IDENTITIES_ANSWER, "its keys")
        try:
            found = [(reader.string(), reader.text()) for _ in range(reader.uint32())]
        except WireError as exc:
            raise self._error(f"sent a malformed key list: {exc}") from None
        return [key for blob, comment in found if (key := _ed25519(blob, comment))]

    def sign(self, key: PublicKey, data: bytes) -> bytes:
        """The agent's signature over `data` in the SSH encoding (string type, string bytes)."""
        request = bytes([_SIGN_REQUEST]) + string(key.blob) + string(data) + uint32(0)
        reader = self._request(request, _SIGN_RESPONSE, f"a signature with {key.fingerprint}")
        try:
            return reader.string()
        except WireError as exc:
            raise self._error(f"sent a malformed signature: {exc}") from None

    def _request(self, message: bytes, expected: int, what: str) -> Reader:
        reply = self._exchange(uint32(len(message)) + message)
        reader = Reader(reply)
        kind = reader.byte() if reply else _FAILURE
        if kind == _FAILURE:
            hint = " (is the key added with ssh-add? was a confirmation denied?)"
            raise self._error(f"refused to give {what}{hint if expected == _SIGN_RESPONSE else ''}")
        if kind != expected:
            raise self._error(f"answered message type {kind} when asked for {what}")
        return reader

    def _exchange(self, request: bytes) -> bytes:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
                sock.sendall(request)
                size = int.from_bytes(_receive(sock, 4), "big")
                if size > _MAX_MESSAGE:
                    raise self._error(f"sent a {size}-byte message (at most {_MAX_MESSAGE})")
                return _receive(sock, size)
            except TimeoutError:
                raise self._error(f"did not answer within {self.timeout:g}s") from None
            except EOFError:
                raise self._error("closed the connection before it answered") from None
            except OSError as exc:
                raise self._error(f"cannot be reached: {exc.strerror or exc}") from None

    def _error(self, problem: str) -> AgentError:
        return AgentError(f"the ssh-agent at {self.path} {problem}")


def _receive(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _ed25519(blob: bytes, comment: str) -> PublicKey | None:
    try:
        return PublicKey.from_blob(blob, comment)
    except SshKeyError:
        return None
