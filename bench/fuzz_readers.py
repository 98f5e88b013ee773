"""Fuzz every reader of user files (prompt sets, model outputs, annotations, labels, dialogs, judge
specs, recipes, config, price tables; and through evalkit's main in-process, `agreement --labels`,
`judge-quality --humans`, `annotate import`) with hypothesis, deep nesting and large files included,
and print how many inputs each took: none may end in anything but EvalkitError (a one-line error,
exit code 2), i.e. no traceback reaches a user.

    .venv/bin/python bench/fuzz_readers.py                 # 14 readers x 7,143 = 100,002 inputs
    .venv/bin/python bench/fuzz_readers.py --examples 500  # a quick pass
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fuzz_support, run from anywhere

from tests.fuzz_cli import ALL_READERS  # noqa: E402
from tests.fuzz_support import fuzz_reader  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = math.ceil(100_000 / len(ALL_READERS))
    parser.add_argument("--examples", type=int, default=default, help=f"generated inputs per reader (default {default})")
    args = parser.parse_args()
    total, failed = 0, []
    began = time.perf_counter()
    for reader in ALL_READERS:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="evalkit-fuzz-") as folder:
            try:
                tried = fuzz_reader(reader, args.examples, Path(folder))
            except Exception as exc:  # hypothesis re-raises the shrunk failing input's exception
                failed.append(reader.name)
                print(f"{reader.name:30} FAILED: {exc.__class__.__name__}: {str(exc)[:500]}", flush=True)
                continue
        total += tried
        print(f"{reader.name:30} {tried:>7,} inputs, no traceback  ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"total: {total:,} generated inputs over {len(ALL_READERS)} readers in {time.perf_counter() - began:.0f} s; "
        f"{len(failed)} readers failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
