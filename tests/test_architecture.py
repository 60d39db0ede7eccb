"""Architecture rules read from the source: data flows one way, and defaults are defined once.

The stage order is the one of docs/ARCHITECTURE.md (config -> inputs -> resources -> shading
-> weather and energy -> assessment -> plan -> outputs); pipeline, partition, batch, the CLI
and the synthetic-data generators orchestrate and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pv_survey"

#: Stage of each module (a module may import its own or an earlier stage, never a later one).
STAGES: dict[str, int] = {
    "errors": 0, "config": 0, "data_files": 0,
    "inputs": 1,
    "roofs": 2, "facades": 2, "carports": 2, "resources": 2,
    "shading": 3, "_horizon_kernel": 3,
    "weather": 4, "energy": 4, "_energy_kernel": 4,
    "assessment": 5,
    "sites": 6, "economics": 6, "plan": 6, "accounting": 6, "zones": 6,
    "outputs": 7,
}
ORCHESTRATORS = {"pipeline", "partition", "batch", "cli", "demo", "citygen", ""}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Modules of pv_survey a file imports, at the top or inside functions (lazy imports count)."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    out.update(f"{target}.{a.name}".strip(".") for a in node.names)
                else:
                    out.add(target)
            elif node.module and node.module.startswith("pv_survey"):
                out.add(node.module.removeprefix("pv_survey").lstrip("."))
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("pv_survey").lstrip(".") for a in node.names
                       if a.name.startswith("pv_survey"))
    return out


def _stage(module: str) -> int | None:
    head = module.split(".", 1)[0]
    return None if head in ORCHESTRATORS or head == "__version__" else STAGES[head]


FILES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_stage():
    heads = {_module_name(p).split(".", 1)[0] for p in FILES}
    assert heads - set(STAGES) - ORCHESTRATORS == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: _module_name(p) or "pv_survey")
def test_no_stage_imports_a_later_stage(path):
    own = _stage(_module_name(path))
    if own is None:
        return
    later = sorted(m for m in _imports(path) if (_stage(m) or 0) > own)
    assert later == [], f"{_module_name(path)} (stage {own}) imports later stages: {later}"


def test_the_rule_sees_lazy_imports(tmp_path):
    # the checker itself: an import inside a function is found (a rule that cannot fail proves nothing)
    f = PKG / "roofs.py"
    assert "shading" not in _imports(f)
    probe = tmp_path / "pv_survey" / "roofs.py"
    probe.parent.mkdir()
    probe.write_text("def f():\n    from . import shading\n", encoding="utf-8")
    globals()["PKG"], saved = tmp_path / "pv_survey", PKG
    try:
        assert _imports(probe) == {"shading"}
    finally:
        globals()["PKG"] = saved
