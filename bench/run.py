"""Run the benchmarks: ``python -m bench.run [energy|shading|modules|layout|flux|all] [--quick]``.

Each benchmark writes ``bench/results/<name>.json`` and ``.md``; the README
quotes those files.
"""

from __future__ import annotations

import argparse
import importlib
import sys


BENCHES = ("energy", "shading", "modules", "layout", "flux")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("which", nargs="?", default="all", choices=(*BENCHES, "all"))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = ap.parse_args(argv)
    names = BENCHES if args.which == "all" else (args.which,)
    for name in names:
        mod = importlib.import_module(f"bench.bench_{name}")
        print(f"== bench {name}", flush=True)
        mod.main(["--quick"] if args.quick else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
