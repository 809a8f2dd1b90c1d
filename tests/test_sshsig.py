"""SSHSIG signatures against the real OpenSSH tools: ssh-keygen -Y sign/verify and ssh-agent."""

import base64
import hashlib
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from sealguard.decide.agent import Agent, AgentError, agent_socket
from sealguard.decide.keys import SshKeyError, load_private_key, parse_public_key, public_key_of
from sealguard.decide.sshsig import (
    NAMESPACE,
    SignatureRefused,
    sign,
    sign_with_agent,
    signature_key,
    signed_data,
    verify,
)
from sealguard.exitcodes import ExitCode

from .ssh_tools import SshKey, keygen_sign, keygen_verify, make_key, ssh_add, ssh_agent

PAYLOAD = b'{"decision": "accept", "event": "RTE_20250101_000000_0123abcd"}\n'


@pytest.fixture
def alice(tmp_path: Path) -> SshKey:
    return make_key(tmp_path, "alice")


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "decision.json"
    path.write_bytes(PAYLOAD)
    return path


def refused(reason: str, call: Callable[[], object]) -> str:
    """Run `call`, which must refuse for `reason` with exit 4; return the message."""
    with pytest.raises(SignatureRefused) as caught:
        call()
    assert (caught.value.reason, caught.value.exit_code) == (reason, ExitCode.REFUSED)
    return caught.value.message


# interop: ssh-keygen -> sealguard, sealguard -> ssh-keygen


def test_a_signature_from_ssh_keygen_verifies_and_names_the_allowed_key(
    alice: SshKey, message: Path, tmp_path: Path
) -> None:
    other = make_key(tmp_path, "bob").public
    armored = keygen_sign(alice, message)

    found = verify(PAYLOAD, armored, [other, alice.public])

    assert found == alice.public and found.comment == "alice@example.org"


def test_sealguard_writes_what_ssh_keygen_writes_byte_for_byte(
    alice: SshKey, message: Path
) -> None:
    # ed25519 signatures are deterministic, so the same key and payload give the same armor
    ours = sign(PAYLOAD, load_private_key(alice.path))

    assert ours == keygen_sign(alice, message)
    assert ours.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert ours.endswith("\n-----END SSH SIGNATURE-----\n")


def test_ssh_keygen_verifies_a_signature_from_sealguard(alice: SshKey, message: Path) -> None:
    armored = sign(PAYLOAD, load_private_key(alice.path))

    done = keygen_verify(alice, "amartin", armored, message)

    assert done.returncode == 0, done.stderr
    assert (
        f'Good "{NAMESPACE}" signature for amartin with ED25519 key {alice.public.fingerprint}'
        in (done.stdout + done.stderr)
    )


def test_ssh_keygen_refuses_what_sealguard_refuses_an_altered_payload(
    alice: SshKey, message: Path
) -> None:
    armored = sign(PAYLOAD, load_private_key(alice.path))
    message.write_bytes(PAYLOAD.replace(b"accept", b"reject"))

    assert keygen_verify(alice, "amartin", armored, message).returncode != 0
    refused("mismatch", lambda: verify(message.read_bytes(), armored, [alice.public]))


def test_a_passphrase_protected_key_signs_both_ways(tmp_path: Path, message: Path) -> None:
    locked = make_key(tmp_path, "carol", passphrase="correct horse")

    ours = sign(PAYLOAD, load_private_key(locked.path, "correct horse"))
    theirs = keygen_sign(locked, message)

    assert ours == theirs
    assert verify(PAYLOAD, theirs, [locked.public]) == locked.public
    assert keygen_verify(locked, "carol", ours, message).returncode == 0


def test_the_fingerprint_is_the_one_ssh_keygen_prints(alice: SshKey) -> None:
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{alice.path}.pub"], capture_output=True, text=True, check=True
    ).stdout

    assert printed.split()[1] == alice.public.fingerprint
    assert alice.public.fingerprint.startswith("SHA256:") and "=" not in alice.public.fingerprint


# signing through a real ssh-agent


def test_an_ssh_agent_signs_and_ssh_keygen_verifies(
    alice: SshKey, message: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rsa = make_key(tmp_path, "legacy", kind="rsa")
    with ssh_agent(tmp_path) as socket:
        ssh_add(socket, alice)
        ssh_add(socket, rsa)
        monkeypatch.setenv("SSH_AUTH_SOCK", socket)
        listed = Agent(agent_socket()).keys()
        armored = sign_with_agent(PAYLOAD, listed[0])

    assert listed == [alice.public]  # the RSA key is not offered for decisions
    assert listed[0].comment == "alice@example.org"
    assert keygen_verify(alice, "amartin", armored, message).returncode == 0
    assert armored == keygen_sign(alice, message)


def test_an_ssh_agent_unlocks_a_passphrase_key_once(tmp_path: Path, message: Path) -> None:
    locked = make_key(tmp_path, "carol", passphrase="correct horse")
    with ssh_agent(tmp_path) as socket:
        ssh_add(socket, locked)
        armored = sign_with_agent(PAYLOAD, locked.public, agent=Agent(socket))

    assert verify(PAYLOAD, armored, [locked.public]) == locked.public


def test_an_agent_without_the_key_refuses_to_sign(alice: SshKey, tmp_path: Path) -> None:
    with ssh_agent(tmp_path) as socket, pytest.raises(AgentError) as caught:
        sign_with_agent(PAYLOAD, alice.public, agent=Agent(socket))

    assert caught.value.message == (
        f"the ssh-agent at {socket} refused to give a signature with {alice.public.fingerprint} "
        "(is the key added with ssh-add? was a confirmation denied?)"
    )
    assert caught.value.exit_code == ExitCode.USAGE


def test_no_agent_is_a_clear_error(alice: SshKey, tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="SSH_AUTH_SOCK is not set"):
        agent_socket({})
    with pytest.raises(AgentError) as caught:
        Agent(str(tmp_path / "gone.sock")).keys()
    assert caught.value.message == (
        f"the ssh-agent at {tmp_path / 'gone.sock'} cannot be reached: No such file or directory"
    )


# refusals


def test_an_altered_payload_is_refused(alice: SshKey, message: Path) -> None:
    armored = keygen_sign(alice, message)

    assert refused("mismatch", lambda: verify(PAYLOAD + b" ", armored, [alice.public])) == (
        "the signature does not verify: the payload was changed after signing, "
        "or the signature belongs to another payload"
    )


def test_a_signature_for_another_namespace_is_refused(alice: SshKey, message: Path) -> None:
    git_signature = keygen_sign(alice, message, namespace="git")

    assert refused("namespace", lambda: verify(PAYLOAD, git_signature, [alice.public])) == (
        'the signature is for the namespace "git", not "sealguard-decision"'
    )
    # and sealguard's own signature under another namespace does not pass as a decision
    ours = sign(PAYLOAD, load_private_key(alice.path), namespace="file")
    refused("namespace", lambda: verify(PAYLOAD, ours, [alice.public]))
    assert verify(PAYLOAD, ours, [alice.public], namespace="file") == alice.public


def test_a_key_that_is_not_allowed_is_refused(alice: SshKey, message: Path, tmp_path: Path) -> None:
    bob = make_key(tmp_path, "bob")
    armored = keygen_sign(bob, message)

    assert refused("unknown-key", lambda: verify(PAYLOAD, armored, [alice.public])) == (
        f"the signature was made by an unknown key {bob.public.fingerprint}"
    )
    refused("unknown-key", lambda: verify(PAYLOAD, armored, []))


def test_a_signature_made_with_an_rsa_key_is_refused(tmp_path: Path, message: Path) -> None:
    rsa = make_key(tmp_path, "legacy", kind="rsa")
    armored = keygen_sign(rsa, message)

    assert refused("key-type", lambda: verify(PAYLOAD, armored, [])) == (
        "the signature was made with a key sealguard cannot use "
        "(ssh-rsa key: sealguard accepts only ssh-ed25519 keys)"
    )


def _armor(blob: bytes) -> str:
    text = base64.b64encode(blob).decode()
    return "-----BEGIN SSH SIGNATURE-----\n" + text + "\n-----END SSH SIGNATURE-----\n"


def _blob(armored: str) -> bytes:
    return base64.b64decode("".join(armored.splitlines()[1:-1]))


def _with_hash(blob: bytes, name: bytes) -> bytes:
    return blob.replace(b"\x00\x00\x00\x06sha512", struct.pack(">I", len(name)) + name)


GARBAGE: dict[str, tuple[Callable[[str], str], str]] = {
    "empty": (lambda good: "", 'it does not start with "-----BEGIN SSH SIGNATURE-----"'),
    "a PGP signature": (
        lambda good: "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n",
        'it does not start with "-----BEGIN SSH SIGNATURE-----"',
    ),
    "no footer": (
        lambda good: good.replace("-----END SSH SIGNATURE-----\n", ""),
        'it does not end with "-----END SSH SIGNATURE-----"',
    ),
    "nothing inside": (
        lambda good: "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
        "nothing between its header and its footer",
    ),
    "not base64": (
        lambda good: _armor(b"x").replace("eA==", "e!A=="),
        "the text between the lines is not base64",
    ),
    "not SSHSIG": (
        lambda good: _armor(b"PGPSIG" + _blob(good)[6:]),
        "the data does not start with SSHSIG",
    ),
    "a newer version": (
        lambda good: _armor(_blob(good)[:6] + struct.pack(">I", 2) + _blob(good)[10:]),
        "version 2; sealguard reads version 1",
    ),
    "cut short": (lambda good: _armor(_blob(good)[:-5]), "needs 83 bytes at offset"),
    "trailing bytes": (lambda good: _armor(_blob(good) + b"\0"), "1 unexpected bytes at the end"),
    "an unknown hash": (
        lambda good: _armor(_with_hash(_blob(good), b"md5")),
        'unknown hash "md5" (sha256 or sha512)',
    ),
}


@pytest.mark.parametrize("case", GARBAGE)
def test_garbage_armor_is_refused_with_what_is_wrong(case: str, alice: SshKey) -> None:
    good = sign(PAYLOAD, load_private_key(alice.path))
    make, problem = GARBAGE[case]

    message = refused("malformed", lambda: verify(PAYLOAD, make(good), [alice.public]))

    assert message.startswith("not an SSH signature: ")
    assert problem in message


def test_a_signature_made_with_sha256_still_verifies(alice: SshKey, tmp_path: Path) -> None:
    # `ssh-keygen -Y sign -O hashalg=sha256` makes these; ssh-keygen accepts both hashes
    message = tmp_path / "m"
    message.write_bytes(PAYLOAD)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-O", "hashalg=sha256", "-n", NAMESPACE, "-f",
         str(alice.path), str(message)],
        check=True, capture_output=True,
    )  # fmt: skip
    armored = (tmp_path / "m.sig").read_text()

    assert b"sha256" in _blob(armored)
    assert verify(PAYLOAD, armored, [alice.public]) == alice.public


def test_signature_key_names_the_claimed_signer(alice: SshKey, message: Path) -> None:
    assert signature_key(keygen_sign(alice, message)) == alice.public


# keys


def test_private_key_files_that_cannot_sign_say_why(tmp_path: Path) -> None:
    locked = make_key(tmp_path, "carol", passphrase="correct horse")
    rsa = make_key(tmp_path, "legacy", kind="rsa")
    (tmp_path / "junk").write_text("not a key\n")
    cases = {
        (locked.path, None): "the key is protected by a passphrase; give it",
        (locked.path, "wrong"): "wrong passphrase for the key",
        (rsa.path, None): "ssh-rsa key: sealguard signs only with ssh-ed25519 keys",
        (tmp_path / "junk", None): "not an OpenSSH private key (Not OpenSSH private key format)",
        (tmp_path / "missing", None): "cannot read the key: No such file or directory",
    }
    for (path, passphrase), problem in cases.items():
        with pytest.raises(SshKeyError) as caught:
            load_private_key(path, passphrase)
        assert caught.value.message == f"{path}: {problem}"
        assert caught.value.exit_code == ExitCode.DATA


def test_a_passphrase_given_for_an_open_key_is_ignored(alice: SshKey) -> None:
    assert public_key_of(load_private_key(alice.path, "unused")) == alice.public


def test_a_public_key_line_reads_back_as_written(alice: SshKey) -> None:
    key = parse_public_key(alice.line + "\n")

    assert key.openssh() == alice.line
    assert parse_public_key(alice.line.rsplit(" ", 1)[0]) == key  # the comment is optional
    assert parse_public_key(alice.line.rsplit(" ", 1)[0]).openssh() == alice.line.rsplit(" ", 1)[0]
    assert parse_public_key(alice.line + " laptop 2024").comment == "alice@example.org laptop 2024"


def test_public_key_lines_that_are_not_ed25519_keys_say_why(tmp_path: Path) -> None:
    rsa = make_key(tmp_path, "legacy", kind="rsa")
    ed = make_key(tmp_path, "ed").line.split()[1]
    short = base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x03abc").decode()
    cases = {
        rsa.line: "ssh-rsa key: sealguard accepts only ssh-ed25519 keys",
        "  ": "empty key; expected an OpenSSH public key line",
        f"amartin ssh-ed25519 {ed}": '"amartin" is not a key type; expected a line like',
        "ssh-ed25519": "ssh-ed25519 without key data",
        "ssh-ed25519 AAAA!!!": "the key data of the ssh-ed25519 key is not base64",
        f"ssh-ed25519 {rsa.line.split()[1]}": "ssh-rsa key: sealguard accepts only ssh-ed25519",
        f"ssh-ed25519 {short}": "malformed ssh-ed25519 key data: 3 key bytes, not 32",
        f"ssh-ed25519 {ed[:-8]}": "malformed ssh-ed25519 key data: needs 32 bytes",
    }
    for line, problem in cases.items():
        with pytest.raises(SshKeyError) as caught:
            parse_public_key(line)
        assert caught.value.message.startswith(problem), (line, caught.value.message)


# properties

_KEY = Ed25519PrivateKey.generate()
_PUBLIC = public_key_of(_KEY)


@given(payload=st.binary(min_size=1, max_size=300), data=st.data())
def test_any_single_byte_change_of_the_payload_fails(payload: bytes, data: st.DataObject) -> None:
    armored = sign(payload, _KEY)
    index = data.draw(st.integers(0, len(payload) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda byte: byte != payload[index]))
    changed = payload[:index] + bytes([value]) + payload[index + 1 :]

    refused("mismatch", lambda: verify(changed, armored, [_PUBLIC]))
    assert verify(payload, armored, [_PUBLIC]) == _PUBLIC


_SIGNED = _blob(sign(PAYLOAD, _KEY))


@given(index=st.integers(0, len(_SIGNED) - 1), delta=st.integers(1, 255))
def test_any_single_byte_change_of_the_signature_fails(index: int, delta: int) -> None:
    changed = bytearray(_SIGNED)
    changed[index] = (changed[index] + delta) % 256

    with pytest.raises(SignatureRefused):
        verify(PAYLOAD, _armor(bytes(changed)), [_PUBLIC])


def test_what_the_key_signs_is_the_protocol_s_signed_data() -> None:
    digest = hashlib.sha512(PAYLOAD).digest()
    expected = (
        b"SSHSIG"
        + b"\0\0\0\x12sealguard-decision"
        + b"\0\0\0\0"
        + b"\0\0\0\x06sha512"
        + b"\0\0\0\x40"
        + digest
    )
    assert signed_data(PAYLOAD) == expected
    assert _PUBLIC.verifies(_blob(sign(PAYLOAD, _KEY))[-64:], expected)


# an agent that misbehaves: a scripted server on a unix socket


@contextmanager
def scripted_agent(path: Path, reply: bytes | None) -> Iterator[str]:
    """Answers one request with `reply` (None: never answers) and closes."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path.name)  # relative: unix socket paths are short
    server.listen(1)
    done = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            if reply is None:
                done.wait()
            else:
                connection.sendall(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield path.name
    finally:
        done.set()
        thread.join()
        server.close()


def _agent_reply(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


MISBEHAVIOUR: dict[str, tuple[str, bytes | None, str]] = {
    "hangs up": ("keys", b"", "closed the connection before it answered"),
    "an empty answer": ("keys", _agent_reply(b""), "refused to give its keys"),
    "another message": (
        "keys",
        _agent_reply(b"\x63"),
        "answered message type 99 when asked for its keys",
    ),
    "a huge message": (
        "keys",
        struct.pack(">I", 10**6),
        "sent a 1000000-byte message (at most 262144)",
    ),
    "a short key list": (
        "keys",
        _agent_reply(b"\x0c\0\0\0\x01"),
        "sent a malformed key list: needs 4 bytes",
    ),
    "a short signature": (
        "sign",
        _agent_reply(b"\x0e\0\0"),
        "sent a malformed signature: needs 4 bytes",
    ),
    "an RSA signature": (
        "sign",
        _agent_reply(b"\x0e" + struct.pack(">I", 19) + b"\0\0\0\x07ssh-rsa\0\0\0\x04abcd"),
        "sent an unusable signature: a signature of type ssh-rsa with 4 bytes, not ssh-ed25519",
    ),
    "silence": ("keys", None, "did not answer within 0.2s"),
}


@pytest.mark.parametrize("case", MISBEHAVIOUR)
def test_an_agent_that_misbehaves_is_a_clear_error(case: str, tmp_path: Path) -> None:
    request, reply, problem = MISBEHAVIOUR[case]
    with scripted_agent(tmp_path / "fake.sock", reply) as path, pytest.raises(AgentError) as caught:
        agent = Agent(path, timeout=0.2)
        if request == "keys":
            agent.keys()
        else:
            sign_with_agent(PAYLOAD, _PUBLIC, agent=agent)

    assert caught.value.message.startswith(f"the ssh-agent at {path} {problem}"), (
        caught.value.message
    )


def test_an_empty_namespace_is_a_programming_error(alice: SshKey) -> None:
    with pytest.raises(ValueError, match="namespace must not be empty"):
        sign(PAYLOAD, load_private_key(alice.path), namespace="")
