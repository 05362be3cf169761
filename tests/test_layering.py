"""The package's rooms and the arrows between them: every import points down (or within a room), and the
rooms that render a look never import torch. Read from the source with ``ast``, so the rule holds for imports
inside functions too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "influgan"
FOUNDATION = {"images", "weights", "version"}  # top-level modules every room may read
TOP = {"cli", "__init__", "__main__"}  # the doors: may import anything
MAY_IMPORT = {  # room → the rooms its modules may import from (besides itself and the foundation)
    "foundation": set(),
    "masks": set(),
    "looks": {"masks"},
    "media": {"masks", "looks"},
    "learning": {"masks", "looks"},
    "training": {"masks", "looks", "learning"},
    "serving": {"masks", "looks", "media", "learning"},
}
TORCH_FREE = {"foundation", "masks", "looks", "media"}  # foundation: torch only inside functions


def room(module: str) -> str:
    """``influgan.looks.lut`` → ``looks``; ``influgan.images`` → ``foundation``; ``influgan.cli`` → ``top``."""
    parts = module.split(".")[1:]
    if not parts:
        return "top"
    if parts[0] in FOUNDATION:
        return "foundation"
    if parts[0] in TOP:
        return "top"
    return parts[0]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = False  # only for type checkers
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top_level) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if child.module is None or target in ("influgan",) or target.count(".") == 1 and target.split(".")[1] in MAY_IMPORT:
                    # "from .. import lut" or "from ..looks import lut": each name may be a module
                    found.extend((f"{target}.{alias.name}", child.lineno, top_level) for alias in child.names)
                else:
                    found.append((target, child.lineno, top_level))
            visit(child, inner)

    visit(tree, True)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_lives_in_a_known_room():
    rooms = {room(module_name(path)) for path in MODULES}
    assert rooms <= set(MAY_IMPORT) | {"top"}, rooms - set(MAY_IMPORT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = room(module_name(path))
    if own == "top":
        return
    allowed = MAY_IMPORT[own] | {own, "foundation"}
    wrong = []
    for target, line, top_level in imports(path):
        if target.split(".")[0] == "influgan":
            target_room = room(target)
            if target_room == "top" and target.split(".")[-1] in ("__version__",):
                continue
            if target_room not in allowed:
                wrong.append(f"line {line}: {target} ({own} may not import {target_room})")
        elif target.split(".")[0] == "torch" and own in TORCH_FREE and (own != "foundation" or top_level):
            wrong.append(f"line {line}: {target} ({own} renders without torch)")
    assert not wrong, f"{path.relative_to(PACKAGE)}: " + "; ".join(wrong)


def test_the_checker_sees_a_wrong_arrow(tmp_path, monkeypatch):
    """The rule can fail: a looks/ module that imports learning/ or torch is caught."""
    looks = tmp_path / "influgan" / "looks"
    looks.mkdir(parents=True)
    bad = looks / "bad.py"
    bad.write_text("from ..learning.prior import instant_look\n\ndef f():\n    import torch\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "influgan")
    with pytest.raises(AssertionError, match=r"looks may not import learning.*renders without torch"):
        test_imports_point_down(bad)
