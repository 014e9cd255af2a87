"""Command line: ``python -m toylab {demo, sweep, bench}``.

* ``demo``: train the DataAlchemy split on a few seeds and print its result table.
* ``sweep NAME [--workers 2] [--out FILE] [--scheduler ADDRESS]``: run a shipped sweep
  (``--list`` names them), on local processes or on a Dask cluster.
* ``bench --json FILE``: the speed benchmark (``toylab.bench``).
"""

from __future__ import annotations

import argparse
import sys

from toylab.cache import Cache


def _demo(seeds: int) -> None:
    """The demo sweep's first ``seeds`` seeds, in parallel and through the cache, so the
    table matches the shipped ``demo.csv``."""
    from toylab.sweep import collect, load_spec, run_jobs

    spec = load_spec("demo")
    print(spec.description, "\n")
    jobs = [j for j in spec.jobs() if j.config.seed < seeds]
    cache = Cache()
    run_jobs(spec.experiment, jobs, cache, workers=2)
    frame = collect(spec.experiment, jobs, cache)
    table = frame[frame.part == "full"].pivot_table(
        index=["trace", "split"], columns="metric", values="value", aggfunc="mean")
    print(f"\nmean over {seeds} seeds (full output; exact match and BLEU: higher is "
          "better, edit distance: lower is better)")
    print(table.round(3).to_string())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toylab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small experiment and print its table")
    demo.add_argument("--seeds", type=int, default=3, help="seeds to average (1-5)")
    sw = sub.add_parser("sweep", help="run a named sweep into a tidy CSV")
    sw.add_argument("name", nargs="?", help="a shipped sweep or a sweep .json file")
    sw.add_argument("--workers", type=int, default=2)
    sw.add_argument("--out", help="CSV to write (default: NAME.csv here)")
    sw.add_argument("--cache", help="cache folder (default: $TOYLAB_CACHE)")
    sw.add_argument("--list", action="store_true", help="list the shipped sweeps")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run on the Dask cluster of this scheduler (host:port); results "
                    "come back here (needs: pip install 'toylab[cluster]')")
    bench = sub.add_parser("bench", help="measure training speed on this machine")
    bench.add_argument("--json", help="also write the report to this file")
    bench.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test)")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            if not 1 <= args.seeds <= 5:
                raise ValueError(f"--seeds must be 1 to 5, got {args.seeds}")
            _demo(args.seeds)
        elif args.command == "sweep":
            from toylab.sweep import available, load_spec, sweep

            if args.list or not args.name:
                for name in available():
                    print(f"{name}: {load_spec(name).description}")
                return 0
            out = args.out or f"{load_spec(args.name).name}.csv"
            frame = sweep(args.name, workers=args.workers, out=out,
                          cache=Cache(args.cache) if args.cache else None,
                          scheduler=args.scheduler)
            print(f"wrote {len(frame)} rows to {out}")
        else:
            from toylab.bench import main as bench_main

            bench_main(args.json, quick=args.quick)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
