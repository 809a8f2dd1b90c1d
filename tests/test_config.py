"""Config errors are one line naming the file, the line and the key, and exit 78."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sealguard.config import load_config, parse_config
from sealguard.errors import ConfigError

from .cli_run import run_cli

FILE = Path("governance/sealguard.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[seal]\npathz = ["src/**"]\n', "governance/sealguard.toml:2: seal.pathz: unknown key"),
        (
            '\n[seal]\npaths = "src/**"\n',
            "governance/sealguard.toml:3: seal.paths: expected an array, got a string",
        ),
        (
            '[seal]\npaths = ["a", 3]\n',
            "governance/sealguard.toml:2: seal.paths[1]: expected a string, got an integer",
        ),
        (
            '[seal]\npaths = ["a"]\nexclude = "x"\n',
            "governance/sealguard.toml:3: seal.exclude: expected an array, got a string",
        ),
        (
            "[seal]\nexclude = []\n",
            "governance/sealguard.toml:1: seal.paths: required key is missing",
        ),
        ("", "governance/sealguard.toml:1: seal: required key is missing"),
        (
            '[seal]\npaths = ["a"]\n[probes]\nx = 1\n',
            "governance/sealguard.toml:3: probes: unknown key",
        ),
        ('[seal]\npaths = ["a"\n', "governance/sealguard.toml:2: invalid TOML: Unclosed array"),
        (
            '[seal]\npaths = ["a"]\npaths = ["b"]\n',
            "governance/sealguard.toml:3: invalid TOML: Cannot overwrite a value",
        ),
        (
            "[seal]\npaths = []\n",
            "governance/sealguard.toml:2: seal.paths: must name at least one glob",
        ),
        (
            '[seal]\npaths = ["/etc/**"]\n',
            'governance/sealguard.toml:2: seal.paths[0]: bad glob "/etc/**": must be relative',
        ),
        (
            '[seal]\npaths = ["../x"]\n',
            'governance/sealguard.toml:2: seal.paths[0]: bad glob "../x": leaves the project root',
        ),
        (
            '[seal]\npaths = ["src/**.py"]\n',
            "governance/sealguard.toml:2: seal.paths[0]: bad glob \"src/**.py\": uses '**' inside a segment",
        ),
        (
            '[seal]\npaths = ["a"]\nexclude = ["", "[x"]\n',
            'governance/sealguard.toml:3: seal.exclude[0]: bad glob "": is empty',
        ),
        (
            '[seal]\npaths = ["a"]\nexclude = ["[x"]\n',
            'governance/sealguard.toml:3: seal.exclude[0]: bad glob "[x": has an unbalanced',
        ),
        (
            '[seal]\npaths = ["a\\\\"]\n',
            'governance/sealguard.toml:2: seal.paths[0]: bad glob "a\\": ends with a lone backslash',
        ),
    ],
)
def test_config_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 78


def test_a_valid_config() -> None:
    config = parse_config(
        '[seal]\npaths = ["src/**", "a\\\\[b\\\\].txt"]\nexclude = ["**/x/**"]\n', FILE
    )
    assert config.seal.paths == ["src/**", "a\\[b\\].txt"]
    selector = config.selector()
    assert selector.selects("a[b].txt") and not selector.selects("ab.txt")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; run `sealguard init`"):
        load_config(tmp_path / "sealguard.toml")


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "sealguard.toml"
    file.write_bytes(b"[seal]\npaths = ['\xff']\n")
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(file)


def test_cli_exit_code_and_one_line(make_project, invoke) -> None:  # type: ignore[no-untyped-def]
    project = make_project(config='[seal]\npaths = ["src/**"]\ncolour = "red"\n')
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 78
    assert result.stderr == f"sealguard: {project.config_file}:3: seal.colour: unknown key\n"


def test_key_in_an_array_of_tables_is_located() -> None:
    from sealguard.tomlpos import line_of

    text = "[seal]\npaths=[]\n[[probe]]\nname='a'\n[[probe]]\nname='b'\ncmd='x'\n"
    assert line_of(text, ("probe", 1, "cmd")) == 7
    assert line_of(text, ("probe", 0, "cmd")) == 3
    assert line_of(text, ("seal", "paths")) == 2
    assert line_of(text, ("nowhere",)) == 1


DEEP_TOML = {
    "arrays": "[" * 5000 + "]" * 5000,
    "inline tables": "{a = " * 5000 + "1" + "}" * 5000,
}


@pytest.mark.parametrize("nested", DEEP_TOML.values(), ids=DEEP_TOML.keys())
def test_deeply_nested_toml_is_a_config_error(make_project, invoke, nested: str) -> None:  # type: ignore[no-untyped-def]
    project = make_project(config=f'[seal]\npaths = ["src/**"]\nx = {nested}\n')
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 78
    assert result.stderr == (
        f"sealguard: {project.config_file}: invalid TOML: nested too deeply to read\n"
    )


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (os.mkfifo, "is a named pipe (FIFO), not a regular file"),
        (os.mkdir, "is a folder, not a regular file"),
    ],
)
def test_a_config_that_is_not_a_regular_file_is_one_line_never_a_hang(
    make_project, make: Callable[[Path], None], kind: str
) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    project.config_file.unlink()
    make(project.config_file)
    found = run_cli("--project", str(project.root), "verify", may_block=make is os.mkfifo)
    assert found == (78, "", f"sealguard: {project.config_file}: cannot read the config: {kind}\n")


def test_channel_secrets_from_the_environment() -> None:
    base = '[seal]\npaths = ["a"]\n[channels.webhook]\nurl = "https://h.example/x"\n'
    config = parse_config(base + 'headers_env = { Authorization = "HOOK_AUTH" }\n', FILE)
    assert config.channels.webhook is not None
    assert config.channels.webhook.headers_env == {"Authorization": "HOOK_AUTH"}
    both = 'headers = { authorization = "x" }\nheaders_env = { Authorization = "HOOK_AUTH" }\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(base + both, FILE)
    assert caught.value.message == (
        "governance/sealguard.toml:6: channels.webhook.headers_env: "
        "header authorization is also set in `headers`"
    )
    email = '[seal]\npaths = ["a"]\n[channels.email]\nhost = "h"\nfrom = "s@x"\nto = ["a@x"]\n'
    assert parse_config(email, FILE).channels.email.allow_plaintext_auth is False  # type: ignore[union-attr]
    allowed = parse_config(email + "allow_plaintext_auth = true\n", FILE)
    assert allowed.channels.email.allow_plaintext_auth is True  # type: ignore[union-attr]
