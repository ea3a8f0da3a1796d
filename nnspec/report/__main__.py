"""python -m nnspec.report RESULTS_DIR [OUT_DIR]: builds the report (OUT_DIR defaults to RESULTS_DIR)."""

from __future__ import annotations

import sys

from . import FILES, build_report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    out_dir = args[1] if len(args) == 2 else args[0]
    try:
        report = build_report(args[0], out_dir)
    except (FileNotFoundError, ValueError) as exc:  # a missing results directory, an unwritable output
        print(f"nnspec.report: {exc}", file=sys.stderr)
        return 2
    print(f"{len(report['records'])} records, {len(report['benchmarks'])} benchmarks -> "
          + ", ".join(f"{out_dir}/{name}" for name in FILES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
