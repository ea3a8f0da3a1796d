"""The `nnspec` command: list, run, bench, report, repro."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path

import numpy as np

from .backends import DTYPES, BackendUnavailable, available_backends, load_backend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nnspec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("list", help="the ops, their formulas, and which backends implement them")
    p.add_argument("--family")
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser("run", help="conformance of one backend on one device -> <results>/<backend>-<device>.jsonl")
    p.add_argument("--backend", required=True, help="registered name, or module:Class")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", action="append", choices=list(DTYPES), help="repeatable; default: all four")
    p.add_argument("--family")
    p.add_argument("--op")
    p.add_argument("--budget", default="standard", choices=["quick", "standard", "thorough"])
    p.add_argument("--results", default="results")
    p.add_argument("--seed", type=int, default=None, help="default: a fresh seed, recorded in the results")
    p.add_argument("--strict", action="store_true", help="exit 1 when any check deviates (default: 0, findings are results)")
    p.add_argument("--case-timeout", type=float, default=None, metavar="S",
                   help="seconds one case may run before it is recorded as timeout (default: 180/900/3600 by budget)")
    p.add_argument("--case-memory", default=None, metavar="SIZE",
                   help="address-space limit of each worker, e.g. 8G (default: half the machine's memory)")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="worker processes (default 1)")
    p.add_argument("--known", metavar="PATH",
                   help="evaluate the counterexamples recorded in PATH (a report's conformance.json or a results "
                        "directory) for the same op and dtype before each case's search, so that what an earlier "
                        "run found is looked for again")
    p.add_argument("--shard", default=None, metavar="K/N", help="run only shard K of N of the cases (a CI matrix)")
    p.add_argument("--resume", action="store_true",
                   help="finish the newest unfinished run of this backend and device, measuring only its missing cases")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments after --, e.g. -- -k gelu -x")
    p.set_defaults(handler=cmd_run)

    p = commands.add_parser("bench", help="pytest-benchmark of every op -> <results>/bench-<backend>-<device>.json")
    p.add_argument("--backend", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--results", default="results")
    p.add_argument("--quick", action="store_true", help="short timing, for CI")
    p.add_argument("pytest_args", nargs="*")
    p.set_defaults(handler=cmd_bench)

    p = commands.add_parser("report", help="merge all results into conformance.json, runs.json, conformance.md, index.html")
    p.add_argument("--results", default="results")
    p.add_argument("--out", default="reports")
    p.set_defaults(handler=cmd_report)

    p = commands.add_parser("repro", help="re-run one recorded case; print spec and backend side by side")
    p.add_argument("id", help="a record id: backend/device/dtype/op/check")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--results", default="results", help="read the newest record from this results directory")
    source.add_argument("--report", help="read the record from a report's conformance.json (e.g. reports/conformance.json)")
    p.add_argument("--timeout", type=float, default=60, help="seconds a timeout/crashed case may run again (default 60)")
    p.add_argument("--in-process", action="store_true", help="replay a timeout/crashed case in this process")
    p.set_defaults(handler=cmd_repro)

    p = commands.add_parser("diff", help="what changed between two reports (or results directories), in Markdown")
    p.add_argument("old", help="a conformance.json, a reports directory or a results directory")
    p.add_argument("new")
    p.add_argument("--out", help="also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--fail-on", choices=["new", "any"], default=None,
                   help="exit 1 when NEW has new deviations (new), or when anything changed (any)")
    p.set_defaults(handler=cmd_diff)

    p = commands.add_parser("new-backend", help="scaffold an installable adapter package (every op unsupported)")
    p.add_argument("name", help="the backend's name, e.g. mlx")
    p.add_argument("--dir", default=None, help="where to write it (default ./nnspec-NAME; must not exist)")
    p.set_defaults(handler=cmd_new_backend)

    p = commands.add_parser("check-adapter", help="the adapter contract in seconds: exit 0 kept, 1 broken, one line a problem")
    p.add_argument("backend", help="registered name, or module:Class")
    p.add_argument("--family")
    p.add_argument("--op")
    p.set_defaults(handler=cmd_check_adapter)

    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (BackendUnavailable, KeyError, OSError, ValueError) as exc:
        print(f"nnspec {args.command}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


def cmd_list(args) -> int:
    from .conformance.catalogue import select

    backends = {}
    for name in available_backends():
        try:
            backends[name] = load_backend(name)
        except BackendUnavailable:
            pass  # not installed here: listed as such below
    for entry in select(args.family):
        where = [n + ("(composed)" if b.is_composed(entry.op) else "") for n, b in backends.items() if b.implements(entry.op)]
        missing = sorted(set(available_backends()) - set(backends))
        params = ", ".join(k if v is inspect.Parameter.empty else f"{k}={v!r}" for k, v in entry.defaults.items())
        print(f"{entry.op}({params})  [{entry.family}]")
        print(f"    {entry.formula.splitlines()[0]}")
        print(f"    backends: {', '.join(where) or '-'}" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    return 0


def cmd_run(args) -> int:
    import pytest

    from .conformance import isolation, suite
    from .conformance.catalogue import select
    from .conformance.plugin import parse_shard

    _check_run_options(args)
    select(args.family, args.op)  # an unknown family or op: KeyError, one line, before anything starts
    if args.shard:
        try:
            parse_shard(args.shard)
        except pytest.UsageError as exc:
            raise ValueError(str(exc)) from None
    if args.case_memory:
        isolation.parse_size(args.case_memory)
    backend = load_backend(args.backend)
    if args.device not in backend.devices():
        raise ValueError(f"backend {backend.name!r} has no device {args.device!r}; it has {backend.devices()}")
    writable_directory(args.results)
    if args.resume:
        from .conformance.plugin import _resumable

        try:
            _resumable(Path(args.results), backend.name, args.device)
        except pytest.UsageError as exc:
            raise ValueError(str(exc)) from None

    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    pytest_args = [
        suite.__file__, "-p", "nnspec.conformance.plugin", "-p", "no:cacheprovider", "-p", "no:faulthandler", "-p", "xdist",
        "-c", str(Path(suite.__file__).with_name("pytest.ini")), "-q", "--tb=no", "-rfEs",
        "-n", str(args.workers), "--max-worker-restart", str(isolation.MAX_WORKER_RESTARTS),
        "--nnspec-backend", args.backend, "--nnspec-device", args.device, "--nnspec-budget", args.budget,
        "--nnspec-results", args.results, "--nnspec-seed", str(seed),
    ]
    for dtype in args.dtype or []:
        pytest_args += ["--nnspec-dtype", dtype]
    for option, value in (("--nnspec-family", args.family), ("--nnspec-op", args.op), ("--nnspec-shard", args.shard),
                          ("--nnspec-case-timeout", args.case_timeout), ("--nnspec-case-memory", args.case_memory),
                          ("--nnspec-known", args.known)):
        if value is not None:
            pytest_args += [option, str(value)]
    if args.resume:
        pytest_args += ["--nnspec-resume"]
    code = pytest.main(pytest_args + list(args.pytest_args))
    if code == pytest.ExitCode.USAGE_ERROR:  # pytest printed the one-line reason
        return 2
    print(f"nnspec run: results in {args.results}/" + ("" if args.resume else f" (seed {seed})"))
    if code == pytest.ExitCode.TESTS_FAILED:  # deviations are findings, recorded in the results
        return 1 if args.strict else 0
    return int(code)


def _check_run_options(args) -> None:
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.case_timeout is not None and not args.case_timeout > 0:
        raise ValueError(f"--case-timeout must be a positive number of seconds, got {args.case_timeout:g}")
    if args.resume and (args.family or args.op or args.dtype or args.shard or args.seed is not None or args.known):
        raise ValueError("--resume continues a run with its own options: give no --family, --op, --dtype, --shard, "
                         "--seed or --known with it")
    if args.known and not Path(args.known).exists():
        raise ValueError(f"--known {args.known}: no such report or results directory")


def writable_directory(path) -> Path:
    """``path`` as a directory this process can write into (created if missing), or a clear ValueError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".nnspec-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write into {path}/: {exc.strerror or exc}") from None
    return path


def cmd_bench(args) -> int:
    from .benchmarks import run_benchmarks

    load_backend(args.backend)  # a clear error before pytest starts
    return run_benchmarks(args.backend, args.device, args.results, quick=args.quick, extra_args=args.pytest_args)


def cmd_report(args) -> int:
    from .report import build_report

    report = build_report(args.results, args.out)
    print(f"nnspec report: {len(report['records'])} records from {len(report['runs'])} runs -> {args.out}/")
    return 0


def cmd_repro(args) -> int:
    from .conformance.repro import reproduce

    print(reproduce(args.id, args.results, args.report, timeout=args.timeout, in_process=args.in_process), flush=True)
    return 0


def cmd_diff(args) -> int:
    from .report.diff import diff, load_status, to_markdown

    result = diff(load_status(args.old), load_status(args.new), args.old, args.new)
    text = to_markdown(result)
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as out:  # a step summary collects several
            out.write(text + "\n")
    if args.fail_on == "new" and result.new_deviations or args.fail_on == "any" and not result.empty:
        return 1
    return 0


def cmd_new_backend(args) -> int:
    from .kit.scaffold import names, new_backend

    target = new_backend(args.name, args.dir)
    n = names(args.name)
    print(f"nnspec new-backend: {target}/ ({n['package']}.adapter:{n['cls']}, entry point {n['name']!r}); next: "
          f"pip install -e {target} && nnspec check-adapter {n['name']}")
    return 0


def cmd_check_adapter(args) -> int:
    from .kit.contract import check

    problems = check(load_backend(args.backend), args.family, args.op)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"nnspec check-adapter: {args.backend} keeps the contract")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
