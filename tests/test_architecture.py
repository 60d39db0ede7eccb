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
    "errors": 0, "config": 0, "data_files": 0, "presets": 0, "keys": 0, "memory": 0, "scratch": 0,
    "inputs": 1,
    "roofs": 2, "layout": 2, "_layout_kernel": 2, "facades": 2, "carports": 2, "resources": 2,
    "shading": 3, "_horizon_kernel": 3,
    "weather": 4, "energy": 4, "_energy_kernel": 4,
    "assessment": 5, "flux": 5,
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


# --------------------------------------------------------------------------- defaults defined once


def _config_defaults() -> tuple[set[str], set]:
    """Names and plain default values (numbers, non-empty strings) of every config field."""
    import dataclasses

    from pv_survey import config

    names, values = set(), set()
    for obj in vars(config).values():
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == config.__name__:
            for f in dataclasses.fields(obj):
                names.add(f.name)
                v = f.default
                if isinstance(v, (int, float, str)) and not isinstance(v, bool) and v != "":
                    values.add(v)
    return names, values


def _literal(node: ast.AST):
    """The value of a literal default (numbers, strings, tuples of numbers); None when not a literal."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        node = ast.Constant(-node.operand.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and \
            not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Tuple) and node.elts and all(_literal(e) is not None for e in node.elts):
        return tuple(_literal(e) for e in node.elts)
    return None


def _signature_defaults(path: Path):
    """(line, function, parameter, literal value) of every literal default of a public function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults))
            pairs += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            for arg, d in pairs:
                v = _literal(d)
                if v is not None:
                    yield node.lineno, node.name, arg.arg, v


def _repeated_defaults(path: Path) -> list[str]:
    names, values = _config_defaults()
    bad = []
    for line, func, param, v in _signature_defaults(path):
        numbers = [x for x in (v if isinstance(v, tuple) else (v,)) if not isinstance(x, str)]
        if any(x != 0 for x in numbers) or (numbers and param in names) or (isinstance(v, str) and v in values):
            bad.append(f"{path.relative_to(PKG.parent)}:{line} {func}({param}={v!r})")
    return bad


def test_signatures_do_not_repeat_default_numbers():
    """Each default is defined once: in the config's dataclasses (with its source) or a named constant.

    A public function's signature may not carry a number other than 0 ('none'), a number for a
    parameter named like a config field, or a string equal to a config default: it refers to the
    config (``EnergyConfig.albedo``) or to a module constant instead.
    """
    bad = [b for p in FILES if p.name != "config.py" for b in _repeated_defaults(p)]
    assert bad == [], "defaults written again in signatures:\n" + "\n".join(bad)


def test_the_defaults_rule_can_fail(tmp_path):
    probe = tmp_path / "pv_survey" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("def f(x, *, albedo=0.2, n=0, crs='EPSG:4547', pad_m=0.0, shortlist_size=0, _y=3):\n    pass\n"
                     "def _private(k=7):\n    pass\n", encoding="utf-8")
    globals()["PKG"], saved = tmp_path / "pv_survey", PKG
    try:
        got = _repeated_defaults(probe)
    finally:
        globals()["PKG"] = saved
    # albedo: a number and a config field; crs: the config's metric CRS; shortlist_size: a config field
    # (outputs.shortlist_size), even at 0; _y=3: a number. n=0 and pad_m=0.0 pass.
    assert [g.split(" ", 1)[1] for g in got] == ["f(albedo=0.2)", "f(crs='EPSG:4547')", "f(shortlist_size=0)",
                                                 "f(_y=3)"]
