"""What never reaches what (STYLE.md): the import contracts in pyproject.toml, checked by
import-linter, and what importing a module really loads in a fresh interpreter.

Both run in a subprocess with this tree's src first on the path, so they check the code beside
these tests whether wparchive is installed (editable, by `make test`) or only on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command(sys.argv[1:])"


def python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run Python code with this tree's src ahead of any installed wparchive."""
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True, timeout=300)


def lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No cache: it would be written beside the project, and a stale one could hide a change.
    return python(LINT_IMPORTS, str(config), "--no-cache", "--no-logo", cwd=cwd)


def importlinter_config() -> dict:  # type: ignore[type-arg]
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]


def test_the_import_contracts_are_kept(tmp_path: Path) -> None:
    contracts = importlinter_config()["contracts"]
    assert [c["id"] for c in contracts] == ["storage", "reading", "cleaning", "leaves", "layers"]
    result = lint_imports(PYPROJECT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    output = " ".join(result.stdout.split())  # import-linter wraps long contract names
    for contract in contracts:
        assert f"{contract['name']} KEPT" in output
    assert f"Contracts: {len(contracts)} kept, 0 broken." in output


# For each contract, a module that does import what the contract forbids: the same forbidden
# list applied to it must break. So a contract cannot pass because a name in it is misspelt, or
# because import-linter does not see the package at all.
OFFENDERS = {
    "storage": "wparchive.rebuild",   # imports clean, config and records
    "reading": "wparchive.cli",       # imports client, harvest, config, ...
    "cleaning": "wparchive.media",    # imports client and db
    "leaves": "wparchive.records",    # imports clean, models and rows
}


def test_import_linter_fails_when_a_contract_is_broken(tmp_path: Path) -> None:
    config = importlinter_config()
    lines = ["[tool.importlinter]", f"root_package = {json.dumps(config['root_package'])}",
             f"include_external_packages = {str(config['include_external_packages']).lower()}"]
    for contract in config["contracts"]:
        if contract["type"] != "forbidden":
            continue
        lines += ["", "[[tool.importlinter.contracts]]", f"id = {json.dumps(contract['id'])}",
                  f"name = {json.dumps(contract['name'] + ' (applied to ' + OFFENDERS[contract['id']] + ')')}",
                  f"type = {json.dumps(contract['type'])}",
                  f"source_modules = {json.dumps([OFFENDERS[contract['id']]])}",
                  f"forbidden_modules = {json.dumps(contract['forbidden_modules'])}"]
    broken = tmp_path / "broken.toml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = lint_imports(broken, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout
    assert f"Contracts: 0 kept, {len(OFFENDERS)} broken." in " ".join(output.split())
    # Direct imports the offenders really make, as import-linter reports them.
    for chain in ("wparchive.rebuild -> wparchive.clean", "wparchive.cli -> wparchive.harvest",
                  "wparchive.media -> wparchive.client", "wparchive.records -> wparchive.rows"):
        assert chain in output


def test_the_layers_contract_breaks_when_the_layers_are_upside_down(tmp_path: Path) -> None:
    config = importlinter_config()
    layers = next(c for c in config["contracts"] if c["id"] == "layers")
    upside_down = tmp_path / "upside_down.toml"
    upside_down.write_text("\n".join([
        "[tool.importlinter]", f"root_package = {json.dumps(config['root_package'])}", "",
        "[[tool.importlinter.contracts]]", 'name = "upside down"', 'type = "layers"',
        f"layers = {json.dumps(layers['layers'][::-1])}"]) + "\n", encoding="utf-8")
    result = lint_imports(upside_down, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    output = " ".join(result.stdout.split())
    assert "upside down BROKEN" in output
    # one of the real one-way arrows, now seen as running the wrong way
    assert "wparchive.harvest -> wparchive.sync" in output and "wparchive.sync -> wparchive.pages" in output


CLEANING_AND_HARVESTING = [
    "lxml", "html_to_markdown", "pydantic", "bs4", "requests",
    "wparchive.clean", "wparchive.records", "wparchive.models", "wparchive.config", "wparchive.client",
    "wparchive.discover", "wparchive.harvest", "wparchive.sync", "wparchive.fallback", "wparchive.parallel",
]
LOADS_NONE_OF = {
    "wparchive.db": CLEANING_AND_HARVESTING,
    "wparchive.web": CLEANING_AND_HARVESTING,
    "wparchive.export": CLEANING_AND_HARVESTING,
    "wparchive.static_site": CLEANING_AND_HARVESTING,
    # Datasette loads its plugins (wparchive.web among them) as serve imports it.
    "wparchive.serve": CLEANING_AND_HARVESTING,
    "wparchive.clean": ["sqlite_utils", "requests", "wparchive.db", "wparchive.client"],
}
LOADED = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
print(json.dumps({"file": module.__file__, "modules": sorted(sys.modules)}))
"""


def loaded_by(module: str, cwd: Path) -> tuple[str, set[str]]:
    """The file a fresh interpreter imports module from, and every module it has loaded then."""
    result = python(LOADED, module, cwd=cwd)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    return found["file"], set(found["modules"])


@pytest.mark.parametrize("module", sorted(LOADS_NONE_OF))
def test_importing_storage_reading_or_cleaning_loads_none_of_what_it_must_not(module: str, tmp_path: Path) -> None:
    file, modules = loaded_by(module, tmp_path)
    assert Path(file).is_relative_to(SRC)
    assert module in modules
    assert sorted(modules & set(LOADS_NONE_OF[module])) == []


@pytest.mark.parametrize("module", ["wparchive.rows", "wparchive.paths", "wparchive.progress", "wparchive.errors"])
def test_a_leaf_module_loads_no_other_wparchive_module(module: str, tmp_path: Path) -> None:
    file, modules = loaded_by(module, tmp_path)
    assert Path(file).is_relative_to(SRC)
    assert sorted(name for name in modules if name.split(".")[0] == "wparchive") == ["wparchive", module]
