"""Generation speed at the paper's sizes (same as `samplegan bench generation`).

    python benchmarks/bench_generation.py [--json] [--quick]
"""

from __future__ import annotations

import argparse
import json

from harness.common.quiet_tf import import_tensorflow_quietly
from harness.training.speed import format_generation_bench, run_generation_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    args = parser.parse_args()
    import_tensorflow_quietly()
    result = run_generation_bench(quick=args.quick)
    print(json.dumps(result) if args.json else format_generation_bench(result))


if __name__ == "__main__":
    main()
