"""Data files of pv-survey with their sources: module presets, lookup tables derived from pvlib.

:func:`module_preset` reads ``modules.toml`` (one entry per module: size, power, efficiency,
temperature coefficient, bifaciality and its datasheet); ``roofs.module`` names one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import ConfigError

__all__ = ["ModulePreset", "module_preset", "module_names", "DEFAULT_MODULE", "MODULES_FILE"]

#: The presets file beside this module.
MODULES_FILE = "modules.toml"
#: Largest gap accepted between the datasheet efficiency and pmax / (area x 1000 W/m2) [-]
#: (datasheets round the efficiency to 0.1 percentage point; 0.3 pp catches a typo).
EFFICIENCY_TOLERANCE_FRAC = 0.003


@dataclass(frozen=True)
class ModulePreset:
    """One PV module of ``modules.toml``.

    Attributes
    ----------
    name : str
        Key in ``modules.toml`` (the value of ``roofs.module``).
    label : str
        Maker, model and technology.
    length_m, width_m : float
        Outer dimensions, long and short side. [m]
    pmax_w : float
        Power at STC. [W]
    efficiency_frac : float
        Module efficiency at STC (datasheet). [-]
    temp_coeff_pmax_per_c : float
        Temperature coefficient of Pmax. [1/degC]
    bifaciality_frac : float
        Rear / front power ratio; 0 = monofacial. [-]
    source : str
        Datasheet (document name and URL).
    """

    name: str
    label: str
    length_m: float
    width_m: float
    pmax_w: float
    efficiency_frac: float
    temp_coeff_pmax_per_c: float
    bifaciality_frac: float
    source: str

    @property
    def area_m2(self) -> float:
        """Outer area of one module. [m2]"""
        return self.length_m * self.width_m

    @property
    def kwp(self) -> float:
        """STC power of one module. [kWp]"""
        return self.pmax_w / 1000.0

    @property
    def kwp_per_m2(self) -> float:
        """STC power per m2 of module (= efficiency x 1 kW/m2 over the outer area). [kWp/m2]"""
        return self.kwp / self.area_m2


_NEED = {"label": str, "length_mm": (int, float), "width_mm": (int, float), "pmax_w": (int, float),
         "efficiency_frac": (int, float), "temp_coeff_pmax_per_c": (int, float),
         "bifaciality_frac": (int, float), "source": str}


@lru_cache(maxsize=1)
def _table() -> tuple[str, dict[str, ModulePreset]]:
    text = (resources.files(__name__) / MODULES_FILE).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    where = f"pv_survey/presets/{MODULES_FILE}"
    out = {}
    for name, entry in raw.get("modules", {}).items():
        for key, kind in _NEED.items():
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                raise ConfigError(f"{where}: module {name!r} lacks a valid {key!r}; give every preset "
                                  f"{', '.join(_NEED)}")
        length_m, width_m = float(entry["length_mm"]) / 1000.0, float(entry["width_mm"]) / 1000.0
        if width_m > length_m:
            length_m, width_m = width_m, length_m
        m = ModulePreset(name=name, label=entry["label"], length_m=length_m, width_m=width_m,
                         pmax_w=float(entry["pmax_w"]), efficiency_frac=float(entry["efficiency_frac"]),
                         temp_coeff_pmax_per_c=float(entry["temp_coeff_pmax_per_c"]),
                         bifaciality_frac=float(entry["bifaciality_frac"]), source=entry["source"])
        if not (length_m > 0 and width_m > 0 and m.pmax_w > 0):
            raise ConfigError(f"{where}: module {name!r} has a non-positive size or power")
        if abs(m.kwp_per_m2 - m.efficiency_frac) > EFFICIENCY_TOLERANCE_FRAC:
            raise ConfigError(f"{where}: module {name!r}: efficiency_frac {m.efficiency_frac} disagrees with "
                              f"pmax / area = {m.kwp_per_m2:.4f}; check the datasheet figures")
        out[name] = m
    default = raw.get("default", "")
    if default not in out:
        raise ConfigError(f"{where}: default = {default!r} is not one of its modules")
    return default, out


def module_names() -> tuple[str, ...]:
    """Names of the module presets, in file order."""
    return tuple(_table()[1])


def module_preset(name: str) -> ModulePreset:
    """The module preset ``name`` of ``modules.toml``.

    Raises
    ------
    ConfigError
        ``name`` is not a preset; the message lists the known ones.
    """
    table = _table()[1]
    if name not in table:
        raise ConfigError(f"roofs.module = {name!r}: no such module preset in pv_survey/presets/{MODULES_FILE}; "
                          f"choose one of {', '.join(table)}")
    return table[name]


#: The default module (``default`` of ``modules.toml``).
DEFAULT_MODULE: str = _table()[0]
