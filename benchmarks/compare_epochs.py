"""Benchmark: `zoo.compare` over N epochs against the naive loop a user would write,
N × (`zoo.load_pretrained` + `model.evaluate`), side by side in one run.

It trains a recipe for 10 epochs (saving every one), publishes it to a temporary local
hub served by olah, warms the HF cache, then times both ways (medians of --repeats).

    python benchmarks/compare_epochs.py [--recipe digits-cnn] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="digits-cnn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat, N=3 only (for CI)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    repeats, sizes = (1, [3]) if args.quick else (args.repeats, [3, 10])

    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        tmp = Path(tmp)
        os.environ.update({"ZOO_HOME": str(tmp / "home"), "HF_HOME": str(tmp / "hf"), "ZOO_MANIFESTS_DIR": str(tmp / "manifests")})
        import zoo
        from zoo.localhub import serving
        from zoo.training import evaluate_splits

        run = zoo.train(args.recipe, epochs=max(sizes), save_at=range(1, max(sizes) + 1), out=tmp / "run", progress=False).run_dir
        zoo.publish(run, f"bench/{args.recipe}", hub_dir=tmp / "hub", manifests_dir=tmp / "manifests")
        with serving(tmp / "hub"):
            zoo.fetch(args.recipe, all_epochs=True)  # warm cache: time compute, not the network
            splits = zoo.get_recipe(args.recipe).dataset.load()

            def naive(epochs):
                for e in epochs:
                    model = zoo.load_pretrained(args.recipe, epoch=e, compile=True)
                    evaluate_splits(model, splits, ["test"])

            def ours(epochs):
                zoo.compare(args.recipe, epochs)

            naive([1]), ours([1])  # first-call costs (graph tracing) out of the way
            rows = []
            for n in sizes:
                epochs = list(range(1, n + 1))
                timings = {"naive": [], "compare": []}
                for _ in range(repeats):
                    for label, fn in (("naive", naive), ("compare", ours)):
                        start = time.perf_counter()
                        fn(epochs)
                        timings[label].append(time.perf_counter() - start)
                med = {k: statistics.median(v) for k, v in timings.items()}
                rows.append({"N": n, "naive_s": med["naive"], "compare_s": med["compare"], "ratio": med["compare"] / med["naive"], "repeats": repeats})

    print(f"recipe {args.recipe}, warm cache, medians of {repeats} run(s)")
    print(f"{'N':>3} {'naive loop s':>13} {'zoo compare s':>14} {'compare/naive':>14}")
    for r in rows:
        print(f"{r['N']:>3} {r['naive_s']:>13.3f} {r['compare_s']:>14.3f} {r['ratio']:>14.2f}")
    if args.json:
        args.json.write_text(json.dumps({"recipe": args.recipe, "python": sys.version.split()[0], "results": rows}, indent=2))


if __name__ == "__main__":
    main()
