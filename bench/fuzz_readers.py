"""Fuzz every reader of user files (prompt sets, model outputs, annotations, labels, dialogs, judge
specs, recipes, config, price tables) with hypothesis and print how many inputs each took: none may
end in anything but EvalkitError (a one-line error), i.e. no traceback reaches a user.

    .venv/bin/python bench/fuzz_readers.py                 # 10 readers x 10,000 = 100,000 inputs
    .venv/bin/python bench/fuzz_readers.py --examples 500  # a quick pass
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fuzz_support, run from anywhere

from tests.fuzz_support import READERS, fuzz_reader  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="generated inputs per reader (default 10000)")
    args = parser.parse_args()
    total, failed = 0, []
    began = time.perf_counter()
    for reader in READERS:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="evalkit-fuzz-") as folder:
            try:
                tried = fuzz_reader(reader, args.examples, Path(folder))
            except Exception as exc:  # hypothesis re-raises the shrunk failing input's exception
                failed.append(reader.name)
                print(f"{reader.name:22} FAILED: {exc.__class__.__name__}: {exc}", flush=True)
                continue
        total += tried
        print(f"{reader.name:22} {tried:>7,} inputs, no traceback  ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"total: {total:,} generated inputs over {len(READERS)} readers in {time.perf_counter() - began:.0f} s; "
        f"{len(failed)} readers failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
