"""Sealed-path globs: the fast shortcuts agree with wcmatch, and walks stay inside the roots."""

from hypothesis import example, given
from hypothesis import strategies as st
from wcmatch import glob as wcglob

from sealguard.globs import _FLAGS, glob_problem, literal_prefix, make_selector

segment = st.sampled_from(
    ["src", "lib", "a", "b.py", "__pycache__", ".hidden", "x.pyc", "node_modules"]
)
rel_paths = st.lists(segment, min_size=1, max_size=5).map("/".join)
pattern_segment = segment | st.sampled_from(["*", "**", "*.py", "?", "[ab]", "{a,lib}"])
patterns = (
    st.lists(pattern_segment, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda p: glob_problem(p) is None)
)


@given(
    st.lists(patterns, min_size=1, max_size=3),
    st.lists(patterns, max_size=3),
    st.lists(rel_paths, max_size=20),
)
def test_selector_agrees_with_wcmatch(
    include: list[str], exclude: list[str], paths: list[str]
) -> None:
    selector = make_selector(include, exclude)
    for path in paths:
        expected = wcglob.globmatch(path, include, flags=_FLAGS, exclude=exclude or None)
        assert selector.selects(path) == expected, (path, include, exclude)


@given(st.lists(patterns, min_size=1, max_size=3), rel_paths)
def test_every_selected_path_lies_under_a_walk_root(include: list[str], path: str) -> None:
    selector = make_selector(include, [])
    if selector.selects(path):
        roots = selector.walk_roots()
        assert any(r in ("", path) or path.startswith(r + "/") for r in roots)


def test_governance_is_never_selected() -> None:
    selector = make_selector(["**"], [])
    assert not selector.selects("governance/sealguard.toml")
    assert selector.prunes("governance")
    assert selector.selects("governance.txt")


def test_literal_prefix() -> None:
    assert literal_prefix("src/**") == "src"
    assert literal_prefix("src/a/*.py") == "src/a"
    assert literal_prefix("**/*.py") == ""
    assert literal_prefix("package.json") == "package.json"
    assert literal_prefix("./src/x") == "src/x"


def test_walk_roots_drop_nested_roots() -> None:
    assert make_selector(["src/**", "src/a/**", "lib/x.py"], []).walk_roots() == ["lib/x.py", "src"]
    assert make_selector(["**/*.py", "src/**"], []).walk_roots() == [""]


def test_excluded_folders_are_pruned() -> None:
    selector = make_selector(["**"], ["**/node_modules/**", "build/**"])
    assert selector.prunes("a/node_modules") and selector.prunes("build")
    assert not selector.prunes("src")


def test_init_writes_plain_globs_for_names_with_hyphens(tmp_path, invoke) -> None:
    """Issue 10 #3: init wrote "PKG\\\\-INFO" and "package\\\\-lock.json"."""
    from sealguard.config import load_config

    from .conftest import write_tree

    root = tmp_path / "repo"
    write_tree(root, {"PKG-INFO": "", "package-lock.json": "{}", "a b/c~d!.txt": "", "x/y": ""})
    (root / "x/z").write_text("")
    result = invoke("--project", str(root), "init")
    assert result.exit_code == 0, result.output
    text = (root / "governance/sealguard.toml").read_text()
    assert '"PKG-INFO",' in text and '"package-lock.json",' in text and "\\\\" not in text
    assert load_config(root / "governance/sealguard.toml").seal.paths[:3] == [
        "PKG-INFO", "a b/**", "package-lock.json"
    ]  # fmt: skip


@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/"), min_size=1))
@example(" ")  # a file named by one blank: found by hypothesis, it read as an empty glob
def test_an_escaped_name_selects_exactly_that_name(name: str) -> None:
    from sealguard.globs import escape

    glob = escape(name)
    assert glob_problem(glob) is None
    assert make_selector([glob], []).selects(name)
    assert not make_selector([glob], []).selects(name + "x")
    blank = not name.strip()  # a backslash first, so that it is not an empty glob
    assert glob == name or blank or any(c in name for c in "*?[]{}\\")  # only magic is escaped
