"""`governance/AUTHORITY.toml`: who may sign decisions, with which keys, and how many must.

The file is sealed and changed only by a signed decision. Its form:

    [[person]]
    id = "amartin"                     # letters, digits, "_", "." or "-"; unique
    name = "Alice Martin"              # the printed name shown with every decision
    roles = ["architect"]              # "operator" and/or "architect"
    keys = ["ssh-ed25519 AAAAC3Nza… alice@example.org"]   # OpenSSH public key lines

    [rules]                            # distinct architects a decision needs, per kind
    reseal = 2                         # the two-person rule for a re-seal
    close-incident = 2                 # kinds not named need 1

The kinds are accept, investigate, rollback, reseal, close-incident and amend. Read once and
validated into typed objects; every error names the file, the line and the key (exit 78).
"""

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec

from sealguard.config import _error, _explain  # config's readers of msgspec and TOML errors
from sealguard.decide.keys import PublicKey, SshKeyError, parse_public_key
from sealguard.decide.sshsig import NAMESPACE, SignatureRefused, verify
from sealguard.errors import ConfigError

Role = Literal["operator", "architect"]
ROLES: tuple[Role, ...] = get_args(Role)
DecisionKind = Literal["accept", "investigate", "rollback", "reseal", "close-incident", "amend"]
DECISION_KINDS: tuple[DecisionKind, ...] = get_args(DecisionKind)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TOML_LINE = re.compile(r"\(at line (?P<line>\d+), column \d+\)")


class Person(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    id: str
    name: str
    roles: list[Role]
    keys: list[PublicKey] = []

    def has(self, role: Role) -> bool:
        return role in self.roles


class Rules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How many distinct architects must sign each kind of decision."""

    accept: int = 1
    investigate: int = 1
    rollback: int = 1
    reseal: int = 1
    close_incident: int = msgspec.field(default=1, name="close-incident")
    amend: int = 1

    def required(self, kind: DecisionKind) -> int:
        count: int = getattr(self, kind.replace("-", "_"))
        return count


class Authority(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    people: list[Person] = msgspec.field(default_factory=list, name="person")
    rules: Rules = Rules()

    def signers_for(self, role: Role) -> list[Person]:
        """The people who hold `role`, in the file's order."""
        return [person for person in self.people if person.has(role)]

    def person_of(self, key: PublicKey) -> Person | None:
        """The one person who holds `key` (validation makes it unique), or None."""
        return next((person for person in self.people if key in person.keys), None)

    def keys(self) -> list[PublicKey]:
        return [key for person in self.people for key in person.keys]

    def required(self, kind: DecisionKind, changes_authority: bool = False) -> int:
        """Distinct architects a decision of `kind` needs; a decision that puts another
        AUTHORITY.toml in force needs the strictest rule of all, so that no kind with a lower
        rule can be used to lower the others (one architect cannot drop the two-person rule)."""
        if changes_authority:
            return max(self.rules.required(k) for k in DECISION_KINDS)
        return self.rules.required(kind)


def signer(
    authority: Authority, payload: bytes, armored: str, namespace: str
) -> tuple[Person, PublicKey]:
    """The person of `authority` whose key made `armored` over `payload` in `namespace`, and
    that key. SignatureRefused (exit 4) for a bad signature, and for a key no person holds."""
    try:
        key = verify(payload, armored, authority.keys(), namespace)
    except SignatureRefused as exc:
        if exc.reason != "unknown-key":
            raise
        raise SignatureRefused(
            f"{exc.message}: no person in AUTHORITY.toml holds it", "unknown-key"
        ) from None
    person = authority.person_of(key)
    assert person is not None  # verify returned one of the authority's own keys
    return person, key


def authorised_signer(
    authority: Authority,
    payload: bytes,
    armored: str,
    role: Role = "architect",
    namespace: str = NAMESPACE,
) -> Person:
    """The person holding `role` whose signature over `payload` `armored` is.

    Raises SignatureRefused (exit 4) for a bad signature (see `sshsig.verify`), for a key no
    person holds (`unknown-key`), and for a person without the role (`role`).
    """
    person, key = signer(authority, payload, armored, namespace)
    if not person.has(role):
        raise SignatureRefused(
            f"{person.name} ({person.id}) signed with {key.fingerprint}, but is not an {role}",
            "role",
        )
    return person


def load_authority(file: Path) -> Authority:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file; it lists the people who may decide") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the authority file: {exc}") from None
    return parse_authority(text, file)


def parse_authority(text: str, file: Path) -> Authority:
    """Validate TOML `text` (read from `file`, named in errors) into an Authority."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        line = where.group("line") if where else str(max(len(text.splitlines()), 1))
        reason = _TOML_LINE.sub("", str(exc)).replace("(at end of document)", "").strip()
        raise ConfigError(f"{file}:{line}: invalid TOML: {reason}") from None
    try:
        authority = msgspec.convert(data, Authority, strict=True, dec_hook=_decode_key)
    except msgspec.ValidationError as exc:
        path, problem = _explain(str(exc))
        raise _error(file, text, path, _plainer(path, problem)) from None
    if found := _problem(authority):
        raise _error(file, text, found[0], found[1])
    return authority


def _decode_key(kind: type, value: object) -> PublicKey:
    if kind is not PublicKey:
        raise NotImplementedError(kind)
    if not isinstance(value, str):
        raise TypeError(f"Expected `str`, got `{type(value).__name__}`")
    try:
        return parse_public_key(value)
    except SshKeyError as exc:
        raise ValueError(exc.message) from None


def _plainer(path: list[str | int], problem: str) -> str:
    """msgspec's words for the two mistakes people make most, in the file's terms."""
    if len(path) >= 2 and path[-2] == "roles" and problem.startswith("Invalid enum value"):
        role = problem.removeprefix("Invalid enum value ")
        return f"unknown role {role} (known: {', '.join(ROLES)})"
    if path[:1] == ["rules"] and problem == "unknown key":
        return f"unknown decision kind (known: {', '.join(DECISION_KINDS)})"
    return problem


Problem = tuple[list[str | int], str]


def _problem(authority: Authority) -> Problem | None:
    """(key path, problem) for the first thing that makes the file unusable, or None."""
    return _people_problem(authority.people) or _rules_problem(authority)


def _people_problem(people: list[Person]) -> Problem | None:
    ids: set[str] = set()
    holders: dict[PublicKey, str] = {}
    for index, person in enumerate(people):
        if found := _person_problem(person, ids):
            return ["person", index, found[0]], found[1]
        ids.add(person.id)
        for number, key in enumerate(person.keys):
            if key in holders:
                where = "twice" if holders[key] == person.id else f'also for "{holders[key]}"'
                return ["person", index, "keys", number], f"{key.fingerprint} is listed {where}"
            holders[key] = person.id
    if not any(person.has("architect") for person in people):
        return ["person"], "no person has the role architect: nobody could sign a decision"
    return None


def _person_problem(person: Person, ids: Iterable[str]) -> tuple[str, str] | None:
    if not _ID.fullmatch(person.id):
        return "id", f'"{person.id}" must be letters, digits, "_", "." or "-"'
    if person.id in ids:
        return "id", f'"{person.id}" names two people'
    if not person.name.strip():
        return "name", "is empty; it is the printed name shown with each decision"
    if not person.roles:
        return "roles", f"name at least one role ({', '.join(ROLES)})"
    if person.has("architect") and not person.keys:
        return "keys", "an architect signs decisions, so needs at least one key"
    return None


def _rules_problem(authority: Authority) -> Problem | None:
    architects = len(authority.signers_for("architect"))
    for kind in DECISION_KINDS:
        count = authority.rules.required(kind)
        if count < 1:
            return ["rules", kind], "must be at least 1"
        if count > architects:
            return ["rules", kind], (
                f"needs {count} distinct architects, but only {architects} "
                f"{'is' if architects == 1 else 'are'} listed"
            )
    return None
