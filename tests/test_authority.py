"""AUTHORITY.toml: people, roles and keys, validated at load; signers checked against it."""

from pathlib import Path

import pytest

from sealguard.decide.authority import (
    Authority,
    authorised_signer,
    load_authority,
    parse_authority,
)
from sealguard.decide.keys import load_private_key
from sealguard.decide.sshsig import SignatureRefused, sign
from sealguard.errors import ConfigError
from sealguard.exitcodes import ExitCode

from .ssh_tools import SshKey, keygen_sign, make_key

PAYLOAD = b"decision payload\n"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, SshKey]:
    folder = tmp_path / "keys"
    folder.mkdir()
    return {name: make_key(folder, name) for name in ("alice", "bob", "olga", "mallory")}


def authority_text(keys: dict[str, SshKey], rules: str = "") -> str:
    return f"""\
# who may decide
[[person]]
id = "amartin"
name = "Alice Martin"
roles = ["architect"]
keys = ["{keys["alice"].line}"]

[[person]]
id = "bdurand"
name = "Bruno Durand"
roles = ["architect", "operator"]
keys = [
    "{keys["bob"].line}",
]

[[person]]
id = "ops"
name = "Olga Petrova"
roles = ["operator"]
keys = ["{keys["olga"].line}"]
{rules}"""


def test_a_valid_file_reads_into_people_roles_keys_and_rules(
    keys: dict[str, SshKey], tmp_path: Path
) -> None:
    file = tmp_path / "AUTHORITY.toml"
    file.write_text(authority_text(keys, "\n[rules]\nreseal = 2\nclose-incident = 2\n"))

    authority = load_authority(file)

    assert [p.id for p in authority.signers_for("architect")] == ["amartin", "bdurand"]
    assert [p.id for p in authority.signers_for("operator")] == ["bdurand", "ops"]
    assert authority.people[0].name == "Alice Martin"
    assert authority.people[0].keys == [keys["alice"].public]
    assert authority.person_of(keys["bob"].public) == authority.people[1]
    assert authority.person_of(keys["mallory"].public) is None
    assert [authority.required(kind) for kind in ("accept", "reseal", "close-incident")] == [
        1,
        2,
        2,
    ]
    assert authority.keys() == [keys[name].public for name in ("alice", "bob", "olga")]


def test_without_rules_every_decision_needs_one_architect(keys: dict[str, SshKey]) -> None:
    authority = parse_authority(authority_text(keys), Path("AUTHORITY.toml"))

    kinds = ("accept", "investigate", "rollback", "reseal", "close-incident", "amend")
    assert {authority.required(kind) for kind in kinds} == {1}


Edit = tuple[str, str]  # (old, new) in the example file; old "" appends new at the end


def _problem(keys: dict[str, SshKey], *edits: Edit) -> str:
    """The one-line error for the example file with `edits` applied."""
    text = authority_text(keys)
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1) if old else text + new
    with pytest.raises(ConfigError) as caught:
        parse_authority(text, Path("governance/AUTHORITY.toml"))
    assert caught.value.exit_code == ExitCode.CONFIG
    return caught.value.message


BAD: dict[str, tuple[list[Edit], str]] = {
    "an unknown key": (
        [('name = "Olga Petrova"', 'name = "Olga Petrova"\nemail = "o@example.org"')],
        ":19: person[2].email: unknown key",
    ),
    "a missing id": ([('id = "ops"\n', "")], ":16: person[2].id: required key is missing"),
    "an unknown role": (
        [('roles = ["operator"]', 'roles = ["auditor"]')],
        ":19: person[2].roles[0]: unknown role 'auditor' (known: operator, architect)",
    ),
    "roles as a string": (
        [('roles = ["operator"]', 'roles = "operator"')],
        ":19: person[2].roles: expected an array, got a string",
    ),
    "no role": (
        [('roles = ["operator"]', "roles = []")],
        ":19: person[2].roles: name at least one role (operator, architect)",
    ),
    "a key that is a number": (
        [('keys = ["ssh-ed25519', 'keys = [3, "ssh-ed25519')],
        ":6: person[0].keys[0]: expected a string, got an integer",
    ),
    "a bad id": (
        [('id = "ops"', 'id = "o ps"')],
        ':17: person[2].id: "o ps" must be letters, digits, "_", "." or "-"',
    ),
    "two people with one id": (
        [('id = "ops"', 'id = "amartin"')],
        ':17: person[2].id: "amartin" names two people',
    ),
    "an empty name": (
        [('name = "Olga Petrova"', 'name = " "')],
        ":18: person[2].name: is empty; it is the printed name shown with each decision",
    ),
    "an architect without a key": (
        [('roles = ["operator"]\nkeys = [', 'roles = ["architect"]\nkeys = [] # [')],
        ":20: person[2].keys: an architect signs decisions, so needs at least one key",
    ),
    "no architect": (
        [('["architect"]', '["operator"]'), ('["architect", "operator"]', '["operator"]')],
        ":1: person: no person has the role architect: nobody could sign a decision",
    ),
    "a rule of 0": ([("", "\n[rules]\nreseal = 0\n")], ":23: rules.reseal: must be at least 1"),
    "more signers than architects": (
        [("", "\n[rules]\nclose-incident = 3\n")],
        ":23: rules.close-incident: needs 3 distinct architects, but only 2 are listed",
    ),
    "an unknown decision kind": (
        [("", "\n[rules]\naccept = 1\napprove = 2\n")],
        ":24: rules.approve: unknown decision kind (known: accept, investigate, rollback, "
        "reseal, close-incident, amend)",
    ),
    "a rule that is not a number": (
        [("", '\n[rules]\nreseal = "two"\n')],
        ":23: rules.reseal: expected an integer, got a string",
    ),
    "a rule that is a boolean": (
        [("", "\n[rules]\nreseal = true\n")],
        ":23: rules.reseal: expected an integer, got a boolean",
    ),
    "invalid TOML": ([('name = "Olga Petrova"', 'name = "Olga')], ":18: invalid TOML: "),
}


@pytest.mark.parametrize("case", BAD)
def test_each_mistake_names_the_file_the_line_and_the_key(
    case: str, keys: dict[str, SshKey]
) -> None:
    edits, expected = BAD[case]

    message = _problem(keys, *edits)

    assert message.startswith("governance/AUTHORITY.toml" + expected), message
    if not expected.endswith(": "):
        assert message == "governance/AUTHORITY.toml" + expected


def test_a_key_that_is_not_ed25519_is_named_at_its_line(tmp_path: Path) -> None:
    rsa = make_key(tmp_path, "legacy", kind="rsa")
    text = (
        f'[[person]]\nid = "a"\nname = "A"\nroles = ["architect"]\nkeys = [\n  "{rsa.line}",\n]\n'
    )

    with pytest.raises(ConfigError) as caught:
        parse_authority(text, Path("AUTHORITY.toml"))

    assert caught.value.message == (
        "AUTHORITY.toml:5: person[0].keys[0]: ssh-rsa key: sealguard accepts only ssh-ed25519 keys"
    )


def test_one_key_held_by_two_people_is_refused(keys: dict[str, SshKey]) -> None:
    text = authority_text(keys).replace(keys["olga"].line, keys["alice"].line)

    with pytest.raises(ConfigError) as caught:
        parse_authority(text, Path("AUTHORITY.toml"))

    assert caught.value.message == (
        f"AUTHORITY.toml:20: person[2].keys[0]: {keys['alice'].public.fingerprint} is listed "
        'also for "amartin"'
    )


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; it lists the people who may decide"):
        load_authority(tmp_path / "AUTHORITY.toml")
    (tmp_path / "AUTHORITY.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="cannot read the authority file"):
        load_authority(tmp_path / "AUTHORITY.toml")


# who signed


@pytest.fixture
def authority(keys: dict[str, SshKey]) -> Authority:
    return parse_authority(authority_text(keys), Path("AUTHORITY.toml"))


def test_an_architect_s_signature_names_the_person(
    authority: Authority, keys: dict[str, SshKey], tmp_path: Path
) -> None:
    message = tmp_path / "payload"
    message.write_bytes(PAYLOAD)

    from_keygen = authorised_signer(authority, PAYLOAD, keygen_sign(keys["alice"], message))
    from_sealguard = authorised_signer(
        authority, PAYLOAD, sign(PAYLOAD, load_private_key(keys["bob"].path))
    )

    assert (from_keygen.id, from_keygen.name) == ("amartin", "Alice Martin")
    assert (from_sealguard.id, from_sealguard.name) == ("bdurand", "Bruno Durand")


def test_an_operator_s_key_cannot_sign_what_needs_an_architect(
    authority: Authority, keys: dict[str, SshKey]
) -> None:
    armored = sign(PAYLOAD, load_private_key(keys["olga"].path))

    with pytest.raises(SignatureRefused) as caught:
        authorised_signer(authority, PAYLOAD, armored)

    assert caught.value.reason == "role"
    assert caught.value.exit_code == ExitCode.REFUSED
    assert caught.value.message == (
        f"Olga Petrova (ops) signed with {keys['olga'].public.fingerprint}, but is not an architect"
    )
    assert authorised_signer(authority, PAYLOAD, armored, role="operator").id == "ops"


def test_a_key_nobody_holds_is_refused(authority: Authority, keys: dict[str, SshKey]) -> None:
    armored = sign(PAYLOAD, load_private_key(keys["mallory"].path))

    with pytest.raises(SignatureRefused) as caught:
        authorised_signer(authority, PAYLOAD, armored)

    assert caught.value.reason == "unknown-key"
    assert caught.value.message == (
        f"the signature was made by an unknown key {keys['mallory'].public.fingerprint}: "
        "no person in AUTHORITY.toml holds it"
    )


def test_a_bad_signature_from_a_known_key_is_still_refused(
    authority: Authority, keys: dict[str, SshKey]
) -> None:
    armored = sign(PAYLOAD, load_private_key(keys["alice"].path))

    with pytest.raises(SignatureRefused) as caught:
        authorised_signer(authority, PAYLOAD + b"!", armored)

    assert caught.value.reason == "mismatch"
