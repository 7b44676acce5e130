"""The zoo's cost over the libraries it uses, measured side by side in one run.

Every figure is a median of several runs, reported with its ratio against what a user
would do by hand, and the goal from issue 8. `--quick` (CI) uses fewer repeats and
smaller files; the full run writes the numbers recorded in benchmarks/README.md.

    python benchmarks/run.py [--quick] [--json results.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cmd: list[str], env: dict | None = None) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def row(what, ours, theirs, goal=None, unit="s"):
    ratio = ours / theirs if theirs else float("nan")
    ok = "" if goal is None else ("meets" if ratio <= goal else "MISSES")
    return {"what": what, "zoo": ours, "by_hand": theirs, "ratio": ratio, "goal": goal, "verdict": ok, "unit": unit}


def bench_cli(repeats: int, env: dict) -> list[dict]:
    py, zoo, hf = str(BIN / "python"), str(BIN / "zoo"), str(BIN / "hf")
    tf = median_time(lambda: run([py, "-c", "import tensorflow"], env), repeats)
    hf_help = median_time(lambda: run([hf, "--help"], env), repeats)
    rows = []
    for args in (["--help"], ["list"], ["info", "digits-mlp"]):
        t = median_time(lambda: run([zoo, *args], env), repeats)
        rows.append(row(f"zoo {' '.join(args)} vs import tensorflow", t, tf, 0.10))
        rows.append(row(f"zoo {' '.join(args)} vs hf --help", t, hf_help, 1.2))
    return rows


def bench_fetch(tmp: Path, size_mb: int, repeats: int) -> list[dict]:
    import numpy as np
    from huggingface_hub import hf_hub_download

    import zoo
    from zoo import manifest as mf
    from zoo.localhub import HubServer, publish_local

    stage = tmp / "stage"
    (stage / "epochs/e001").mkdir(parents=True)
    data = np.random.default_rng(0).bytes(size_mb * 1024 * 1024)
    (stage / "epochs/e001/model.weights.h5").write_bytes(data)
    base = mf.load(ROOT / "manifests" / "digits-mlp.json")
    entry = mf.EpochEntry(1, (mf.FileEntry("epochs/e001/model.weights.h5", hashlib.sha256(data).hexdigest(), len(data), "weights"),), {}, base.epochs[0].created_at)
    big = base.replace(name="big", hub=mf.HubRef("bench/big", None), epochs=(entry,), default_epoch=1, selection={})
    (stage / "zoo.json").write_text(big.dumps())
    commit = publish_local(stage, tmp / "hub", "bench/big", tags=[], message="bench")
    (tmp / "manifests").mkdir(exist_ok=True)
    mf.write(big.replace(hub=mf.HubRef("bench/big", commit)), tmp / "manifests" / "big.json")
    os.environ["ZOO_MANIFESTS_DIR"] = str(tmp / "manifests")
    rows = []
    with HubServer(tmp / "hub") as server:
        os.environ["HF_ENDPOINT"] = server.endpoint

        def fresh_cache():
            shutil.rmtree(tmp / "hf", ignore_errors=True)
            os.environ["HF_HOME"] = str(tmp / "hf")

        def ours():
            fresh_cache()
            zoo.fetch("big", 1)

        def raw():
            fresh_cache()
            hf_hub_download("bench/big", "epochs/e001/model.weights.h5", revision=commit, endpoint=server.endpoint, cache_dir=str(tmp / "hf" / "hub"))

        url = f"{server.endpoint}/bench/big/resolve/{commit}/epochs/e001/model.weights.h5"
        t_ours, t_raw = median_time(ours, repeats), median_time(raw, repeats)
        rows.append(row(f"zoo fetch of a {size_mb} MB epoch vs hf_hub_download", t_ours, t_raw, 1.05))
        if shutil.which("curl"):
            t_curl = median_time(lambda: run(["curl", "-sf", "-o", str(tmp / "curl.bin"), url]), repeats)
            rows.append(row(f"zoo fetch of a {size_mb} MB epoch vs curl", t_ours, t_curl))
        before = len(server.requests())
        zoo.fetch("big", 1)  # cached, pinned
        rows.append({"what": "requests for a cached fetch of a pinned revision", "zoo": len(server.requests()) - before, "goal": 0,
                     "verdict": "meets" if len(server.requests()) == before else "MISSES", "unit": "requests"})
    return rows


def build_resnet50():
    from zoo.tf import keras

    return keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=1000, name="resnet50")


def _no_data():
    raise RuntimeError("benchmark-only recipe: no dataset")


def register_resnet() -> None:
    """A benchmark-only recipe: keras.applications.ResNet50 with weights=None (25.6M parameters)."""
    import zoo
    from zoo import manifest as mf
    from zoo.registry import DatasetSpec

    zoo.register_recipe(name="bench-resnet50", version=1, description="keras.applications.ResNet50, weights=None (benchmark only)",
                        input_shape=(224, 224, 3), dataset=DatasetSpec("none", {}, _no_data),
                        train=mf.TrainConfig("adam", 1e-3, 32, 1, 0))(build_resnet50)


def _resnet_run(tmp: Path) -> Path:
    """The ResNet50 recipe's weights as a run directory that load_pretrained reads."""
    import zoo
    from zoo import manifest as mf
    from zoo.checkpoint import save_weights
    from zoo.fileio import sha256_file
    from zoo.fingerprint import architecture_sha256, layout_sha256, model_layout

    register_resnet()
    model = zoo.get_recipe("bench-resnet50").build()
    run = tmp / "resnet-run"
    save_weights(model, run / "epochs/e001/model.weights.h5")
    model.save(str(tmp / "resnet.keras"))
    w = run / "epochs/e001/model.weights.h5"
    entry = mf.EpochEntry(1, (mf.FileEntry("epochs/e001/model.weights.h5", sha256_file(w), w.stat().st_size, "weights"),), {}, mf.utc_now())
    base = mf.load(ROOT / "manifests" / "digits-mlp.json")
    recipe = mf.RecipeRef("bench-resnet50", 1, {}, (224, 224, 3), mf.Dataset("none", {}), mf.TrainConfig("adam", 1e-3, 32, 1, 0))
    compat = mf.Compat("keras.weights.h5", base.compat.keras, base.compat.tensorflow, int(model.count_params()),
                       layout_sha256(model_layout(model)), architecture_sha256(model))
    mf.write(base.replace(name="bench-resnet50", recipe=recipe, compat=compat, hub=None, epochs=(entry,), default_epoch=1, selection={}), run / "zoo.json")
    return run


def bench_load(tmp: Path, repeats: int, small_run: Path) -> list[dict]:
    import zoo
    from zoo.tf import keras

    rows = []
    resnet = _resnet_run(tmp)
    for label, run_dir, recipe in (("digits-cnn", small_run, "digits-cnn"), ("ResNet50 (25.6M params)", resnet, "bench-resnet50")):
        weights = next(run_dir.glob("epochs/*/model.weights.h5"))

        def by_hand():
            model = zoo.get_recipe(recipe).build()
            model.load_weights(str(weights))

        by_hand(), zoo.load_pretrained(str(run_dir))  # warm
        t_hand = median_time(by_hand, repeats)
        t_ours = median_time(lambda: zoo.load_pretrained(str(run_dir)), repeats)
        rows.append(row(f"load_pretrained {label} vs build + load_weights", t_ours, t_hand, 1.15))
        if recipe == "bench-resnet50":
            t_keras = median_time(lambda: keras.models.load_model(str(tmp / "resnet.keras")), repeats)
            rows.append(row(f"load_pretrained {label} vs load_model(.keras)", t_ours, t_keras))
    # Peak memory of the load itself, each in a fresh process: importing TensorFlow peaks
    # higher than a load, so the high-water mark is reset (Linux clear_refs 5) after imports.
    prelude = (f"import re, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import run as bench, zoo, zoo.tf, zoo.loading, zoo.hub; "
               "open('/proc/self/clear_refs', 'w').write('5'); ")
    report = "; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    ours = prelude + f"bench.register_resnet(); zoo.load_pretrained({str(resnet)!r})" + report
    hand = prelude + f"bench.build_resnet50().load_weights({str(next(resnet.glob('epochs/*/model.weights.h5')))!r})" + report
    rss = {}
    for label, body in (("zoo", ours), ("hand", hand)):
        rss[label] = statistics.median(int(subprocess.check_output([sys.executable, "-c", body], stderr=subprocess.DEVNULL, text=True).split()[-1]) for _ in range(max(1, repeats // 2)))
    rows.append(row("peak RSS of load_pretrained (ResNet50) vs by hand", rss["zoo"] / 1024, rss["hand"] / 1024, 1.2, unit="MB"))
    return rows


def bench_train(tmp: Path, epochs: int, repeats: int) -> list[dict]:
    import numpy as np

    import zoo

    recipe = zoo.get_recipe("digits-mlp")
    x, y = recipe.dataset.load().train

    def plain():
        from zoo.tf import keras

        keras.utils.set_random_seed(0)
        model = recipe.compile(recipe.build())
        model.fit(x, y, batch_size=recipe.train.batch_size, epochs=epochs, shuffle=True, verbose=0)
        model.save_weights(str(tmp / "plain.weights.h5"))

    def ours():
        shutil.rmtree(tmp / "train", ignore_errors=True)
        zoo.train("digits-mlp", epochs=epochs, save_at=[epochs // 2, epochs], out=tmp / "train", progress=False)

    plain(), ours()
    return [row(f"zoo train {epochs} epochs (2 saves, deterministic) vs plain model.fit", median_time(ours, repeats), median_time(plain, repeats), 1.03)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        tmp = Path(tmp)
        os.environ.update({"ZOO_HOME": str(tmp / "home"), "HF_HOME": str(tmp / "hf"), "SOURCE_DATE_EPOCH": "1764028800"})
        env = {**os.environ}
        import zoo

        small = zoo.train("digits-cnn", epochs=1, out=tmp / "small", progress=False).run_dir
        rows = bench_cli(repeats, env)
        rows += bench_fetch(tmp, 20 if args.quick else 100, repeats if args.quick else 5)
        rows += bench_load(tmp, repeats, small)
        rows += bench_train(tmp, 10 if args.quick else 30, 3)
    print(f"{'what':<68} {'zoo':>9} {'by hand':>9} {'ratio':>7} {'goal':>6}  verdict")
    for r in rows:
        print(f"{r['what']:<68} {r['zoo']:>9.3f} {r.get('by_hand', float('nan')):>9.3f} {r.get('ratio', float('nan')):>7.2f} "
              f"{r['goal'] if r['goal'] is not None else '-':>6}  {r['verdict']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
