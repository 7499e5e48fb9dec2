"""The layering is part of the product: each layer imports only what sits below it."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

# Which app packages each layer may import (its own package is always allowed).
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "db": set(),
    "models": set(),
    "interfaces": {"models"},
    "utils": {"interfaces", "models"},
    "factories": {"interfaces", "models", "utils"},
    "repositories": {"interfaces", "models", "db"},
    "commands": {"interfaces", "models", "utils"},
    "services": {"interfaces", "models", "factories", "utils", "commands"},
    "schemas": {"models"},
    "controllers": {"services", "interfaces", "models", "schemas"},
    "middlewares": {"services", "interfaces", "models", "utils"},
    "routes": {"controllers", "interfaces", "models", "schemas", "middlewares", "utils"},
    # The command line is a composition-level entry point, like main.py.
    "cli": {
        "config",
        "container",
        "db",
        "models",
        "schemas",
        "utils",
        "services",
        "repositories",
    },
}


def _app_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_lower_layers(layer: str) -> None:
    files = sorted((APP / layer).rglob("*.py"))
    assert files, f"app/{layer} has no modules"
    violations = [
        f"{path.relative_to(APP.parent)} imports app.{imported}"
        for path in files
        for imported in _app_imports(path)
        if imported != layer and imported not in ALLOWED[layer]
    ]
    assert not violations, "\n".join(violations)


def test_every_package_is_assigned_a_layer() -> None:
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
