"""Real OpenSSH tools for signature tests: keys from ssh-keygen, signatures from
`ssh-keygen -Y`, and an ssh-agent of the test's own."""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sealguard.decide.keys import PublicKey, parse_public_key
from sealguard.decide.sshsig import NAMESPACE


@dataclass(frozen=True)
class SshKey:
    path: Path  # the private key; the public one is beside it, with ".pub"
    passphrase: str = ""

    @property
    def line(self) -> str:
        return self.path.with_name(self.path.name + ".pub").read_text().strip()

    @property
    def public(self) -> PublicKey:
        return parse_public_key(self.line)


def make_key(folder: Path, name: str, kind: str = "ed25519", passphrase: str = "") -> SshKey:
    path = folder / name
    size = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *size, "-N", passphrase, "-C", f"{name}@example.org",
         "-f", str(path)],
        check=True,
    )  # fmt: skip
    return SshKey(path, passphrase)


def askpass_env(folder: Path, passphrase: str) -> dict[str, str]:
    """Environment that makes ssh-keygen and ssh-add read `passphrase` from a script, as
    they would from a person at a terminal."""
    script = folder / "askpass.sh"
    script.write_text(f"#!/bin/sh\necho '{passphrase}'\n")
    script.chmod(0o700)
    return {**os.environ, "SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force"}


def keygen_sign(key: SshKey, message: Path, namespace: str = NAMESPACE) -> str:
    """`ssh-keygen -Y sign`; returns the armored signature it wrote to MESSAGE.sig."""
    env = askpass_env(message.parent, key.passphrase) if key.passphrase else None
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(key.path), str(message)],
        check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    signature = message.with_name(message.name + ".sig")
    text = signature.read_text()
    signature.unlink()
    return text


def keygen_verify(
    key: SshKey, identity: str, signature: str, message: Path, namespace: str = NAMESPACE
) -> subprocess.CompletedProcess[str]:
    """`ssh-keygen -Y verify` with an allowed-signers file that lists `key` for `identity`."""
    allowed = message.with_name("allowed_signers")
    allowed.write_text(f"{identity} {key.line}\n")
    sig = message.with_name(message.name + ".sig")
    sig.write_text(signature)
    with message.open("rb") as stdin:
        return subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", identity, "-n", namespace,
             "-s", str(sig)],
            stdin=stdin, capture_output=True, text=True, check=False,
        )  # fmt: skip


@contextmanager
def ssh_agent(folder: Path) -> Iterator[str]:
    """A real ssh-agent in the foreground (-D) on a socket in `folder`; stopped afterwards.

    The socket is named relative to `folder` (the test's working folder) because unix socket
    paths are limited to 108 bytes and a deep temporary folder may be longer."""
    assert Path.cwd() == folder
    socket = "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", socket],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(500):  # the agent binds its socket before it serves; wait for it
            if (folder / socket).exists() or agent.poll() is not None:
                break
            time.sleep(0.01)
        assert (folder / socket).exists(), "ssh-agent did not start"
        yield socket
    finally:
        agent.terminate()
        agent.wait()


def ssh_add(socket: str, key: SshKey) -> None:
    env = askpass_env(key.path.parent, key.passphrase) if key.passphrase else dict(os.environ)
    env["SSH_AUTH_SOCK"] = socket
    subprocess.run(
        ["ssh-add", "-q", str(key.path)],
        check=True, env=env, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
