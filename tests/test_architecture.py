"""The package graph reads as the architecture: config on top, the kernel at the bottom, each
app importing only apps below it. Every import counts, those inside functions too: an import
moved into a function to dodge a cycle is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top. A package may import those on earlier rows only; the two leaves at the
# bottom import none of ours.
LAYERS = [
    ["core", "agent"],  # the kernel; the phone agent, a program of its own
    ["accounts"],
    ["webhooks"],
    ["messaging"],
    ["gateways"],
    ["otp"],
    ["clientapi", "smsgate"],  # the two client APIs, side by side on the same services
    ["adminpanel"],
    ["mysmsapio"],  # the config and serving shell: settings, URLs, ASGI/WSGI, Celery, the edge
]
LAYER_OF = {package: rank for rank, row in enumerate(LAYERS) for package in row}


def imported_packages(package: str) -> dict[str, set[str]]:
    """The packages of ours each module of ``package`` imports (migrations aside)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in LAYER_OF and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_package_of_ours_has_a_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench", "devtools"}
    assert packages == set(LAYER_OF)


@pytest.mark.parametrize("package", sorted(LAYER_OF))
def test_a_package_imports_only_packages_below_it(package):
    upward = {
        target: sorted(modules)
        for target, modules in imported_packages(package).items()
        if LAYER_OF[target] >= LAYER_OF[package]
    }
    assert upward == {}, f"{package} imports {upward}"
