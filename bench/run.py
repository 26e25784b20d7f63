"""Run the benchmarks in bench/ (each a script that prints its own table), one after another.

``bench/run.py`` runs every one; ``bench/run.py ws_fanout scale_out`` runs only those (names without
``.py``); ``--list`` prints the names.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[Path]:
    return sorted(
        p for p in HERE.glob("*.py") if p.name not in {"run.py", "__init__.py"} and not p.name.startswith("_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    args = parser.parse_args(argv)
    scripts = available()
    if args.list:
        print("\n".join(p.stem for p in scripts))
        return 0
    if args.names:
        by_name = {p.stem: p for p in scripts}
        unknown = [name for name in args.names if name.removesuffix(".py") not in by_name]
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(by_name)})")
        scripts = [by_name[name.removesuffix(".py")] for name in args.names]
    if not scripts:
        print("bench: no benchmarks yet")
        return 0
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
