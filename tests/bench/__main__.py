"""``python -m tests.bench [--quick] [--only NAME ...] [--markdown FILE] [--json FILE]``

Runs the benchmarks of issue 6 and prints each one's figures, its baseline measured in
the same run, and whether its target is met. ``--quick`` runs tiny sizes (the CI
smoke test): it checks that every benchmark still works, and its times mean nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from tests.bench import BENCHMARKS
from tests.bench.harness import Report, machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few samples: a smoke run")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    args = parser.parse_args(argv)

    described = machine()
    print("machine: " + "; ".join(f"{k}: {v}" for k, v in described.items()), flush=True)
    reports: list[Report] = []
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"tests.bench.{name}")
        began = time.perf_counter()
        report = module.run(quick=args.quick)
        report.figures["wall_s"] = time.perf_counter() - began
        reports.append(report)
        print("\n" + report.text() + f"\n\n({report.figures['wall_s']:.1f} s)", flush=True)
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average at the end: {machine()['load average (1, 5, 15 min)']}")

    if args.markdown:
        lines = ["## Machine", ""]
        lines += [f"- {k}: {v}" for k, v in described.items()]
        lines += ["", f"Mode: {'quick' if args.quick else 'full'}", ""]
        lines += [report.markdown() + "\n" for report in reports]
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"machine": described, "quick": args.quick, "reports": {r.name: r.figures for r in reports}},
                out,
                indent=1,
                default=str,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
