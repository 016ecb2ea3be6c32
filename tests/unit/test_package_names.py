"""The package's names, imported on first use (imgcreate/__init__.py): each is the object its module defines,
the table and the imports type checkers read agree, and importing the package (as every command does first)
leaves the live creator, dnf and the upstream fs layer unimported until something uses them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import imgcreate

INIT = Path(imgcreate.__file__)


def _type_checking_imports() -> dict[str, set[str]]:
    tree = ast.parse(INIT.read_text())
    guard = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    out: dict[str, set[str]] = {}
    for node in guard.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        out.setdefault(node.module, set()).update(a.name for a in node.names)
    return out


def test_the_table_and_the_type_checkers_imports_name_the_same_things() -> None:
    table = {module: set(names) for module, names in imgcreate._LAZY.items()}
    assert table == _type_checking_imports()


def test_every_name_is_its_modules_own_object_and_star_import_gives_all() -> None:
    import importlib

    for module, names in imgcreate._LAZY.items():
        for name in names:
            assert getattr(imgcreate, name) is getattr(importlib.import_module(module), name), name
            assert name in dir(imgcreate)
    space: dict[str, object] = {}
    exec("from imgcreate import *", space)  # noqa: S102 (a client's statement)
    assert set(imgcreate.__all__) <= set(space)


def test_submodules_are_attributes_and_unknown_names_are_attribute_errors() -> None:
    code = (
        "import imgcreate\n"
        "assert imgcreate.fs.makedirs is imgcreate.makedirs\n"
        "assert imgcreate.util.call is imgcreate.call\n"
        "try:\n    imgcreate.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "has no attribute 'no_such_name'" in out


def test_importing_the_package_imports_neither_the_live_creator_nor_dnf() -> None:
    """Every command imports the package first; a disk build should not pay for the live creator's modules
    (issue 28: a tenth of a second of each run)."""
    code = (
        "import sys, imgcreate, imgcreate.cli.appliance\n"
        "print(sorted(m for m in ('imgcreate.live', 'imgcreate.dnfinst', 'imgcreate.fs') if m in sys.modules))\n"
        "imgcreate.LiveImageCreator\n"
        "print('imgcreate.live' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"
