"""The zoo's cost over the libraries it uses, measured side by side in one run.

Every figure is a median of several runs, reported with its ratio against what a user
would do by hand, and the goal it must meet. `--quick` (CI) uses fewer repeats and
smaller files; the full run writes the numbers recorded in benchmarks/README.md.

    python benchmarks/run.py [--quick] [--json results.json] [--only growth]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
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
from typing import Callable

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
FETCH_SHARDS = 4  # the sharded fetch row: the largest growth size in this many shards


@contextlib.contextmanager
def _endpoint(url: str):
    """HF_ENDPOINT at ``url`` for the duration."""
    previous = os.environ.get("HF_ENDPOINT")
    os.environ["HF_ENDPOINT"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = previous


def side_by_side(fns: dict, repeats: int, number: int = 1, before: Callable[[], object] | None = None) -> dict[str, float]:
    """Median seconds per call of each function, run in turn within every repeat, the
    order rotated each time: slow drifts of a noisy machine then hit every contender
    alike. Each repeat times ``number`` calls (many, for calls of a few milliseconds);
    ``before`` runs, untimed, before each (e.g. ``gc.collect`` between large models)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            if before is not None:
                before()
            start = time.perf_counter()
            for _ in range(number):
                fns[name]()
            times[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(t) for name, t in times.items()}


def run(cmd: list[str], env: dict | None = None) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def row(what, ours, theirs, goal=None, unit="s"):
    ratio = ours / theirs if theirs else float("nan")
    ok = "" if goal is None else ("meets" if ratio <= goal else "MISSES")
    return {"what": what, "zoo": ours, "by_hand": theirs, "ratio": ratio, "goal": goal, "verdict": ok, "unit": unit}


def measured(what: str, value: float, goal: float | None, unit: str) -> dict:
    """A row with one measured value against an absolute goal (``value <= goal``)."""
    ok = "" if goal is None else ("meets" if value <= goal else "MISSES")
    return {"what": what, "zoo": value, "by_hand": float("nan"), "ratio": float("nan"), "goal": goal, "verdict": ok, "unit": unit}


def bench_serving(tmp: Path, sizes_mb: list[int], repeats: int) -> list[dict]:
    """zoo hub serve (olah with zoo's streaming patch) against python -m http.server over the
    same LFS object: curl and hf_hub_download throughput, HEAD time, and the server's peak
    memory while one and eight clients download the largest file."""
    import numpy as np
    from huggingface_hub import hf_hub_download

    from zoo.hub.git_publisher import publish_tree, repo_dir
    from zoo.hub.server import HubServer, free_port

    rows = []
    hub = tmp / "serve-hub"
    commits = {}
    for size in sizes_mb:
        stage = tmp / f"serve-{size}"
        stage.mkdir()
        with open(stage / "model.weights.h5", "wb") as out:  # written in pieces: a 1 GB file never sits in memory
            rng = np.random.default_rng(size)
            for _ in range(size):
                out.write(rng.bytes(1 << 20))
        commits[size] = publish_tree(stage, hub, f"bench/serve-{size}")
        shutil.rmtree(stage)
    lfs = {size: next(p for p in (repo_dir(hub, f"bench/serve-{size}") / ".git" / "lfs" / "objects").rglob("*") if p.is_file()) for size in sizes_mb}
    plain_port, plain_hub_port = free_port(), free_port()
    plain = subprocess.Popen([str(BIN / "python"), "-m", "http.server", str(plain_port), "--bind", "127.0.0.1", "--directory", str(hub)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    routes = {f"/bench/serve-{size}/resolve/{commits[size]}/model.weights.h5": [str(lfs[size]), lfs[size].name, commits[size]] for size in sizes_mb}
    (tmp / "routes.json").write_text(json.dumps(routes))
    plain_hub = subprocess.Popen([str(BIN / "python"), str(Path(__file__).parent / "plain_hub.py"), str(plain_hub_port), str(tmp / "routes.json")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Every contender downloads into memory (tmpfs) where there is one: writing 1 GB to this
    # disk moved a download by ±1 s from one repeat to the next, which drowned the server's cost.
    landing = Path(tempfile.mkdtemp(dir="/dev/shm")) if Path("/dev/shm").is_dir() and shutil.disk_usage("/dev/shm").free > 3 * max(sizes_mb) << 20 else tmp
    try:
        time.sleep(1)
        with HubServer(hub) as server:
            for size in sizes_mb:
                ours_url = f"{server.endpoint}/bench/serve-{size}/resolve/{commits[size]}/model.weights.h5"
                plain_url = f"http://127.0.0.1:{plain_port}/{lfs[size].relative_to(hub).as_posix()}"
                out = landing / "served.bin"

                def fetch_hf(endpoint: str, size=size):
                    shutil.rmtree(landing / "serve-hf", ignore_errors=True)
                    hf_hub_download(f"bench/serve-{size}", "model.weights.h5", revision=commits[size], endpoint=endpoint, cache_dir=str(landing / "serve-hf"))

                def curl(url: str) -> None:  # into a fresh file each time, as hf_hub_download writes one
                    out.unlink(missing_ok=True)
                    run(["curl", "-sf", "-o", str(out), url])

                t = side_by_side({"zoo serve": lambda u=ours_url: curl(u), "http.server": lambda u=plain_url: curl(u),
                                  "hf_hub_download": lambda: fetch_hf(server.endpoint), "hf_hub_download plain": lambda: fetch_hf(f"http://127.0.0.1:{plain_hub_port}")}, repeats)
                rows.append(row(f"serve {size} MB: curl from zoo hub serve vs python -m http.server", t["zoo serve"], t["http.server"], 2.0))
                rows.append(row(f"serve {size} MB: hf_hub_download from zoo hub serve vs from http.server", t["hf_hub_download"], t["hf_hub_download plain"], 2.0))
                rows.append(row(f"serve {size} MB: hf_hub_download from zoo hub serve vs curl from http.server", t["hf_hub_download"], t["http.server"], None))
            largest = max(sizes_mb)
            url = f"{server.endpoint}/bench/serve-{largest}/resolve/{commits[largest]}/model.weights.h5"
            import httpx2

            with httpx2.Client() as client:
                client.head(url)  # the connection, once
                heads = side_by_side({"head": lambda: client.head(url).raise_for_status()}, 5, number=20)
            rows.append(measured(f"HEAD of the {largest} MB file", heads["head"] * 1000, 10.0, "ms"))
            pid = server._proc.pid
            for clients in (1, 8):
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current size
                idle = _status_kb(pid, "VmRSS")
                procs = [subprocess.Popen(["curl", "-sf", "-o", "/dev/null", url]) for _ in range(clients)]
                for p in procs:
                    p.wait()
                grown = (_status_kb(pid, "VmHWM") - idle) / 1024
                rows.append(measured(f"server peak RSS growth, {clients} concurrent download(s) of {largest} MB", grown, 64.0 if clients == 8 else None, "MB"))
    finally:
        for proc in (plain, plain_hub):
            proc.terminate()
            proc.wait()
        if landing != tmp:
            shutil.rmtree(landing, ignore_errors=True)
    return rows


def _status_kb(pid: int, field: str) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def bench_cli(repeats: int, env: dict) -> list[dict]:
    py, zoo, hf = str(BIN / "python"), str(BIN / "zoo"), str(BIN / "hf")
    commands = {"tf": [py, "-c", "import tensorflow"], "hf": [hf, "--help"], "zoo --help": [zoo, "--help"],
                "zoo list": [zoo, "list"], "zoo info digits-mlp": [zoo, "info", "digits-mlp"]}
    t = side_by_side({name: (lambda cmd=cmd: run(cmd, env)) for name, cmd in commands.items()}, repeats)
    rows = []
    for name in ("zoo --help", "zoo list", "zoo info digits-mlp"):
        rows.append(row(f"{name} vs import tensorflow", t[name], t["tf"], 0.10))
        rows.append(row(f"{name} vs hf --help", t[name], t["hf"], 1.2))
    return rows


def bench_fetch(tmp: Path, size_mb: int, repeats: int) -> list[dict]:
    """zoo fetch of one epoch against raw hf_hub_download and curl of the same bytes, cold
    cache; and the requests a cached fetch of a pinned revision makes (none)."""
    rows = []
    with _fetch_contenders(tmp, size_mb) as (contenders, requests):
        t = side_by_side({k: v for k, v in contenders.items() if k != "zoo cached"}, repeats)
        rows.append(row(f"zoo fetch of a {size_mb} MB epoch vs hf_hub_download", t["zoo"], t["hf_hub_download"], 1.05))
        if "curl" in t:
            rows.append(row(f"zoo fetch of a {size_mb} MB epoch vs curl", t["zoo"], t["curl"]))
        before = requests()
        contenders["zoo cached"]()
        rows.append({"what": "requests for a cached fetch of a pinned revision", "zoo": requests() - before, "goal": 0,
                     "verdict": "meets" if requests() == before else "MISSES", "unit": "requests"})
    return rows


def _publish_bytes(tmp: Path, name: str, data: bytes, shards: int = 0) -> str:
    """``data`` as the one epoch of ``bench/NAME`` on the local hub ``tmp/hub`` (a
    ``model.weights.h5``, or ``shards`` Keras-named shards with their index), its manifest
    in ``tmp/manifests``; returns the commit."""
    import json

    from zoo.formats import manifest as mf, sharded
    from zoo.hub.git_publisher import publish_tree

    repo, stage = f"bench/{name}", tmp / f"stage-{name}"
    stage.mkdir(parents=True)
    if shards:
        step = -(-len(data) // shards)
        files = {f"model_{i:05d}.weights.h5": data[i * step:(i + 1) * step] for i in range(shards)}
        index = json.dumps({"metadata": {"total_size": len(data)}, "weight_map": {f"/layers/dense_{i}/vars": [n] for i, n in enumerate(files)}}).encode()
        files = {sharded.INDEX_FILENAME: index, **files}
    else:
        files = {"model.weights.h5": data}
    entries = []
    for filename, content in files.items():
        (stage / filename).write_bytes(content)
        role = "weights" if filename in ("model.weights.h5", sharded.INDEX_FILENAME) else sharded.SHARD_ROLE
        entries.append(mf.FileEntry(filename, hashlib.sha256(content).hexdigest(), len(content), role))
    base = mf.load(ROOT / "manifests" / "digits-mlp.json")
    big = base.replace(name=name, hub=mf.HubRef(repo, None), epochs=(mf.EpochEntry(1, tuple(entries), {}, base.epochs[0].created_at),),
                       default_epoch=1, selection={})
    (stage / "zoo.json").write_text(big.dumps())
    commit = publish_tree(stage, tmp / "hub", repo, tags=[], message="bench")
    shutil.rmtree(stage)
    (tmp / "manifests").mkdir(exist_ok=True)
    mf.write(big.pinned(repo, commit), tmp / "manifests" / f"{name}.json")
    return commit


@contextlib.contextmanager
def _fetch_contenders(tmp: Path, size_mb: int, shards: int = 0):
    """A repo ``bench/big-SIZE`` with one epoch of ``size_mb`` MB served by ``zoo hub serve``,
    and the ways to download it (each into a fresh cache but ``zoo cached``); with
    ``shards``, the same bytes as Keras sharded weights in ``bench/big-SIZE-sharded`` too,
    fetched by ``zoo, sharded``."""
    import numpy as np
    from huggingface_hub import hf_hub_download

    import zoo
    from zoo.hub.server import HubServer

    name, repo = f"big-{size_mb}", f"bench/big-{size_mb}"
    data = np.random.default_rng(size_mb).bytes(size_mb * 1024 * 1024)
    commit = _publish_bytes(tmp, name, data)
    if shards:
        _publish_bytes(tmp, f"{name}-sharded", data, shards)
    del data
    with HubServer(tmp / "hub") as server:
        os.environ["HF_ENDPOINT"] = server.endpoint

        def fresh_cache():
            shutil.rmtree(tmp / "hf", ignore_errors=True)
            os.environ["HF_HOME"] = str(tmp / "hf")

        def ours():
            fresh_cache()
            zoo.fetch(name, 1)

        def raw():
            fresh_cache()
            hf_hub_download(repo, "model.weights.h5", revision=commit, endpoint=server.endpoint, cache_dir=str(tmp / "hf" / "hub"))

        def curl():
            (tmp / "curl.bin").unlink(missing_ok=True)
            run(["curl", "-sf", "-o", str(tmp / "curl.bin"), f"{server.endpoint}/{repo}/resolve/{commit}/model.weights.h5"])

        def ours_sharded():
            fresh_cache()
            zoo.fetch(f"{name}-sharded", 1)

        ways = {"zoo": ours, "hf_hub_download": raw, "curl": curl} if shutil.which("curl") else {"zoo": ours, "hf_hub_download": raw}
        if shards:
            ways["zoo, sharded"] = ours_sharded
        yield {**ways, "zoo cached": lambda: zoo.fetch(name, 1)}, lambda: len(server.requests())
    shutil.rmtree(tmp / "hf", ignore_errors=True)


def build_resnet50():
    from zoo.tf import keras

    return keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=1000, name="resnet50")


def _no_data():
    raise RuntimeError("benchmark-only recipe: no dataset")


def register_resnet() -> None:
    """A benchmark-only recipe: keras.applications.ResNet50 with weights=None (25.6M parameters)."""
    import zoo
    from zoo.formats import manifest as mf
    from zoo.registry import DatasetSpec

    zoo.register_recipe(name="bench-resnet50", version=1, description="keras.applications.ResNet50, weights=None (benchmark only)",
                        input_shape=(224, 224, 3), dataset=DatasetSpec("none", {}, _no_data),
                        train=mf.TrainConfig("adam", 1e-3, 32, 1, 0))(build_resnet50)


def _resnet_run(tmp: Path) -> Path:
    """The ResNet50 recipe's weights as a run directory that load_pretrained reads."""
    import zoo

    register_resnet()
    model = zoo.get_recipe("bench-resnet50").build()
    model.save(str(tmp / "resnet.keras"))
    return _weights_run(tmp / "resnet-run", "bench-resnet50", {}, model)


def _weights_run(run: Path, recipe_name: str, kwargs: dict, model) -> Path:
    """``model``'s weights as a one-epoch run directory of recipe ``recipe_name`` (built
    with ``kwargs``), which load_pretrained reads like any run."""
    from zoo import compat
    from zoo.fileio import sha256_file
    from zoo.formats import manifest as mf
    from zoo.formats.checkpoint import save_weights

    w = run / "epochs/e001/model.weights.h5"
    save_weights(model, w)
    entry = mf.EpochEntry(1, (mf.FileEntry("epochs/e001/model.weights.h5", sha256_file(w), w.stat().st_size, "weights"),), {}, mf.utc_now())
    base = mf.load(ROOT / "manifests" / "digits-mlp.json")
    recipe = mf.RecipeRef(recipe_name, 1, kwargs, mf.Dataset("none", {}), mf.TrainConfig("adam", 1e-3, 32, 1, 0))
    spec = mf.InputSpec(tuple(model.inputs[0].shape[1:]), "float32", (0.0, 1.0), "none (benchmark only)")
    mf.write(base.replace(name=recipe_name, recipe=recipe, input=spec, classes=(), compat=compat.describe(model), hub=None, epochs=(entry,),
                          default_epoch=1, selection={}), run / "zoo.json")
    return run


def bench_load(tmp: Path, repeats: int, small_run: Path) -> list[dict]:
    import zoo
    from zoo.tf import keras

    rows = []
    resnet = _resnet_run(tmp)
    for label, run_dir, recipe, number in (("digits-cnn", small_run, "digits-cnn", 20), ("ResNet50 (25.6M params)", resnet, "bench-resnet50", 1)):
        weights = next(run_dir.glob("epochs/*/model.weights.h5"))

        def by_hand():
            model = zoo.get_recipe(recipe).build()
            model.load_weights(str(weights))

        contenders = {"zoo": lambda: zoo.load_pretrained(str(run_dir)), "hand": by_hand}
        if recipe == "bench-resnet50":
            contenders["load_model"] = lambda: keras.models.load_model(str(tmp / "resnet.keras"))
        for fn in contenders.values():  # warm: first builds trace and fill Keras's caches
            fn()
        t = side_by_side(contenders, repeats, number)
        rows.append(row(f"load_pretrained {label} vs build + load_weights", t["zoo"], t["hand"], 1.15))
        if "load_model" in t:
            rows.append(row(f"load_pretrained {label} vs load_model(.keras)", t["zoo"], t["load_model"]))
    # Peak memory of the load itself, each in a fresh process: importing TensorFlow peaks
    # higher than a load, so the high-water mark is reset (Linux clear_refs 5) after imports.
    prelude = (f"import re, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import run as bench, zoo, zoo.tf, zoo.workflows.loading, zoo.hub.client; "
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
    """zoo train against plain ``model.fit``: with a few saves (the recipes' way), and
    with a save at every epoch against the same files and metrics made by hand with
    Keras's ``ModelCheckpoint`` (weights and full model) and ``evaluate`` on each split."""
    import zoo
    from zoo.tf import keras

    recipe = zoo.get_recipe("digits-mlp")
    splits = recipe.dataset.load()
    x, y = splits.train

    class EvaluateSplits(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for xs, ys in (splits.train, splits.val, splits.test):
                self.model.evaluate(xs, ys, batch_size=256, verbose=0)

    def plain(callbacks=()):
        keras.utils.set_random_seed(0)
        model = recipe.compile(recipe.build())
        model.fit(x, y, batch_size=recipe.train.batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=list(callbacks))
        model.save_weights(str(tmp / "plain.weights.h5"))

    def by_hand_every_epoch():
        shutil.rmtree(tmp / "hand", ignore_errors=True)
        plain([keras.callbacks.ModelCheckpoint(str(tmp / "hand/e{epoch:03d}.weights.h5"), save_weights_only=True),
               keras.callbacks.ModelCheckpoint(str(tmp / "hand/e{epoch:03d}.keras")), EvaluateSplits()])

    def ours(save_at):
        shutil.rmtree(tmp / "train", ignore_errors=True)
        zoo.train("digits-mlp", epochs=epochs, save_at=save_at, out=tmp / "train", progress=False)

    for fn in (plain, by_hand_every_epoch, lambda: ours([epochs])):  # first-call costs out of the way
        fn()
    t = side_by_side({"plain": plain, "zoo": lambda: ours([epochs // 2, epochs])}, repeats)
    every = side_by_side({"plain": plain, "by hand": by_hand_every_epoch, "zoo": lambda: ours(range(1, epochs + 1))}, max(3, repeats // 2))
    return [row(f"zoo train {epochs} epochs, 2 saves vs plain model.fit + save_weights", t["zoo"], t["plain"], 1.03),
            row(f"zoo train {epochs} epochs, a save every epoch vs plain model.fit", every["zoo"], every["plain"]),
            row(f"zoo train {epochs} epochs, a save every epoch vs ModelCheckpoint + evaluate", every["zoo"], every["by hand"], 1.03)]


def bench_mirrored(tmp: Path, epochs: int, repeats: int, replicas: tuple[int, ...] = (1, 2)) -> list[dict]:
    """zoo train --strategy mirrored against plain ``model.fit`` + ``save_weights`` under the
    same MirroredStrategy, for 1 and 2 replicas; each run is a fresh process (TensorFlow
    splits its CPU only before its first op) that times itself after its imports."""
    rows = []
    for n in replicas:
        def child(kind: str, n=n) -> float:
            code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import run; print(run._mirrored_child({kind!r}, {n}, {epochs}, {str(tmp / 'mirrored')!r}))"
            done = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, check=True)
            return float(done.stdout.strip().splitlines()[-1])

        seconds: dict[str, list[float]] = {"zoo": [], "plain": []}
        for i in range(repeats):
            for kind in (("zoo", "plain") if i % 2 == 0 else ("plain", "zoo")):
                seconds[kind].append(child(kind))
        zoo_s, plain_s = statistics.median(seconds["zoo"]), statistics.median(seconds["plain"])
        rows.append(row(f"zoo train digits-cnn {epochs} epochs, mirrored over {n} CPU replica(s) vs plain fit under the same strategy", zoo_s, plain_s))
    return rows


def _mirrored_child(kind: str, replicas: int, epochs: int, out: str) -> float:
    """One timed run of ``bench_mirrored`` (in its own process): seconds after the imports."""
    import zoo
    from zoo.tf import keras, tf
    from zoo.workflows import distribute

    shutil.rmtree(out, ignore_errors=True)
    recipe = zoo.get_recipe("digits-cnn")
    if kind == "zoo":
        start = time.perf_counter()
        zoo.train(recipe, epochs=epochs, save_at=[epochs], out=out, progress=False, strategy="mirrored", replicas=replicas)
        return time.perf_counter() - start
    distribute.configure_replicas(replicas)
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)], cross_device_ops=tf.distribute.ReductionToOneDevice())
    x, y = recipe.dataset.load().train
    start = time.perf_counter()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = recipe.compile(recipe.build())
        model.fit(x, y, batch_size=recipe.train.batch_size, epochs=epochs, shuffle=True, verbose=0)
    Path(out).mkdir(parents=True)
    model.save_weights(str(Path(out) / "plain.weights.h5"))
    return time.perf_counter() - start


def bench_growth(tmp: Path, sizes: list[int], epochs: list[int], fetch_mb: list[int], widths: list[int], repeats: int,
                 plot: Path | None) -> list[dict]:
    """How costs grow: ``zoo list`` and ``zoo info`` against the number of published models,
    reading and validating one manifest against its number of epochs, ``zoo fetch`` (beside
    raw ``hf_hub_download`` and ``curl``) against the file's size, and ``load_pretrained``
    (beside build + ``load_weights``) against the parameter count. Each series gets
    its log-log slope between its two largest sizes (the growth exponent: 0 constant,
    1 linear), flagged when it exceeds the expected one by more than 0.25."""
    import dataclasses
    import math

    from zoo.constants import bundled_manifests_dir
    from zoo.formats import manifest as mf

    base = mf.load(bundled_manifests_dir() / "digits-mlp.json")
    series: dict[str, tuple[str, float, dict[int, float]]] = {}
    list_t, info_t = {}, {}
    for n in sizes:
        catalog = tmp / f"catalog-{n}"
        catalog.mkdir()
        for i in range(n):
            mf.write(base.replace(name=f"m{i:04d}"), catalog / f"m{i:04d}.json")
        env = {**os.environ, "ZOO_MANIFESTS_DIR": str(catalog)}
        zoo = str(BIN / "zoo")
        t = side_by_side({"list": lambda: run([zoo, "list"], env), "info": lambda: run([zoo, "info", "m0000"], env)}, repeats)
        list_t[n], info_t[n] = t["list"], t["info"]
    series["zoo list"] = ("published models", 1.0, list_t)
    series["zoo info NAME"] = ("published models", 0.0, info_t)
    parse_t = {}
    one = base.epochs[0]
    for e in epochs:
        data = base.with_epochs([dataclasses.replace(one, epoch=i, commit=f"{i:040x}") for i in range(1, e + 1)]).to_dict()
        number = max(1, 2000 // e)
        parse_t[e] = side_by_side({"parse": lambda data=data: mf.parse(data)}, repeats, number=number)["parse"]
    series["reading and validating one manifest"] = ("epochs", 1.0, parse_t)

    fetch_t: dict[str, dict[int, float]] = {k: {} for k in ("zoo", "hf_hub_download", "curl") if k != "curl" or shutil.which("curl")}
    sharded_rows = []
    for size_mb in fetch_mb:
        largest = size_mb == max(fetch_mb)  # and, at the largest size, the same bytes in shards
        with _fetch_contenders(tmp, size_mb, shards=FETCH_SHARDS if largest else 0) as (contenders, _):
            t = side_by_side({k: contenders[k] for k in (*fetch_t, *(["zoo, sharded"] if largest else []))}, repeats)
        for k in fetch_t:
            fetch_t[k][size_mb] = t[k]
        if largest:
            sharded_rows.append(row(f"zoo fetch {size_mb} MB as {FETCH_SHARDS} shards (fetched in parallel) vs one file", t["zoo, sharded"], t["zoo"]))
    for k, times in fetch_t.items():
        series[f"{'zoo fetch' if k == 'zoo' else k}, cold cache"] = ("MB", 1.0, times)

    import zoo

    wide = zoo.get_recipe("digits-wide-mlp")  # recipes/digits_wide_mlp.py: two hidden layers, about width² + 76·width parameters
    load_t: dict[str, dict[int, float]] = {"load_pretrained": {}, "build + load_weights": {}}
    for width in widths:
        model = wide.build(width=width, depth=2)
        params = int(model.count_params())
        run_dir = _weights_run(tmp / f"wide-{width}", wide.name, {"width": width, "depth": 2}, model)
        weights = run_dir / "epochs/e001/model.weights.h5"
        del model

        def by_hand(width=width, weights=weights):
            wide.build(width=width, depth=2).load_weights(str(weights))

        contenders = {"load_pretrained": lambda run_dir=run_dir: zoo.load_pretrained(str(run_dir)), "build + load_weights": by_hand}
        for fn in contenders.values():
            fn()
        t = side_by_side(contenders, max(repeats, 9), before=gc.collect)  # a freed 400 MB model is not the next one's cost; allocating 400 MB varies ±50 %
        for k in load_t:
            load_t[k][params] = t[k]
    for k, times in load_t.items():
        series[f"{k}, wide MLP"] = ("parameters", 1.0, times)

    rows = list(sharded_rows)
    for what, (unit, expected, times) in series.items():
        for size, seconds in times.items():
            rows.append(measured(f"{what}, {size} {unit}", seconds, None, "s"))
        small, large = sorted(times)[-2:]  # the two largest sizes: a fixed start-up cost weighs least there
        exponent = math.log(times[large] / times[small]) / math.log(large / small)
        rows.append(measured(f"growth of {what}, {small} → {large} {unit} (expected exponent {expected:g})", exponent, expected + 0.25, ""))
    if plot is not None:
        _plot_growth(series, plot)
    return rows


def _plot_growth(series: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    units = list(dict.fromkeys(unit for unit, _, _ in series.values()))
    fig = Figure(figsize=(4.5 * len(units), 4.2), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(units))
    for ax, unit in zip(axes, units):
        for what, (u, expected, times) in series.items():
            if u != unit:
                continue
            sizes = sorted(times)
            ax.plot(sizes, [times[s] for s in sizes], marker="o", label=f"{what} (expected exponent {expected:g})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel("seconds")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")


def bench_compare(tmp: Path, n: int, repeats: int) -> list[dict]:
    """zoo compare over N epochs against N × (load_pretrained + model.evaluate), warm cache."""
    import zoo
    from zoo.hub.server import HubServer

    recipe = zoo.get_recipe("digits-cnn")
    run = zoo.train(recipe, epochs=n, save_at=range(1, n + 1), out=tmp / "compare-run", progress=False).run_dir
    zoo.publish(run, "bench/digits-cnn", hub_dir=tmp / "compare-hub", manifests_dir=tmp / "manifests")
    x_test, y_test = recipe.dataset.load().test
    epochs = list(range(1, n + 1))

    def naive():
        for e in epochs:
            zoo.load_pretrained("digits-cnn", epoch=e, compile=True).evaluate(x_test, y_test, batch_size=256, verbose=0)

    with HubServer(tmp / "compare-hub") as server, _endpoint(server.endpoint):
        zoo.fetch("digits-cnn", all_epochs=True)  # warm cache: time compute, not the network
        contenders = {"zoo": lambda: zoo.compare("digits-cnn", epochs), "naive": naive}
        for fn in contenders.values():
            fn()
        t = side_by_side(contenders, repeats)
    return [row(f"zoo compare digits-cnn, N={n} epochs vs the naive loop", t["zoo"], t["naive"])]


def digit_folder(root: Path, classes: int = 5, per_class: int = 50) -> Path:
    """PNG files of MNIST digits the published models never trained on (the test split),
    one sub-folder per class: a small dataset as a user would have it."""
    from PIL import Image

    from zoo.recipes.datasets import MNIST_5K

    x, y = MNIST_5K.load().test
    names = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    x_more, y_more = MNIST_5K.load().val  # the test split alone has about 50 of each digit
    x, y = [*x, *x_more], [*y, *y_more]
    for digit in range(classes):
        (root / names[digit]).mkdir(parents=True)
        for i in [i for i, label in enumerate(y) if label == digit][:per_class]:
            Image.fromarray((x[i][..., 0] * 255).astype("uint8")).save(root / names[digit] / f"{i}.png")
    return root


def bench_finetune(tmp: Path, source_epochs: list[int], budgets: list[int]) -> list[dict]:
    """Fine-tuning mnist-lenet's epochs on a small image folder (5 classes, 50 PNGs each)
    against training the same architecture from scratch on it with the same budget."""
    import zoo
    from zoo.hub.server import HubServer

    run = ROOT / "runs" / "mnist-lenet"  # the main job's 100-epoch run, when it is there
    have = zoo.get_manifest(str(run)).epoch_numbers if (run / "zoo.json").is_file() else []
    if not set(source_epochs) <= set(have):
        run = zoo.train("mnist-lenet", epochs=max(source_epochs), save_at=source_epochs, out=tmp / "lenet-source", progress=False).run_dir
    zoo.publish(run, "bench/mnist-lenet", hub_dir=tmp / "finetune-hub", manifests_dir=tmp / "manifests", name="lenet-source")
    folder = digit_folder(tmp / "digits-0-4")
    rows = []
    for budget in budgets:
        with HubServer(tmp / "finetune-hub") as server, _endpoint(server.endpoint):
            study = zoo.compare_transfer("lenet-source", source_epochs, folder, finetune_epochs=budget)
        start = time.perf_counter()
        scratch = zoo.train("mnist-lenet", epochs=budget, save_at=[budget], out=tmp / f"scratch-{budget}", data=folder, progress=False)
        seconds = time.perf_counter() - start
        for label, metrics in [("from scratch", scratch.manifest.epochs[-1].metrics)] + [(f"fine-tuned from epoch {r.source_epoch}", r.fine_tuned) for r in study.rows]:
            for split in ("val", "test"):
                rows.append(measured(f"mnist-lenet {label}, {budget} epochs on 5 classes x 50 PNGs: {split} accuracy", metrics[f"{split}/accuracy"], None, "acc"))
        rows += [row(f"fine-tune from epoch {r.source_epoch}, {budget} epochs (load included) vs from scratch", r.seconds, seconds) for r in study.rows]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["cli", "fetch", "load", "train", "compare", "mirrored", "serving", "finetune", "growth"],
                        help="run one group of rows (the README says which run each figure comes from)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        tmp = Path(tmp)
        os.environ.update({"ZOO_HOME": str(tmp / "home"), "HF_HOME": str(tmp / "hf"), "SOURCE_DATE_EPOCH": "1764028800",
                           "ZOO_MANIFESTS_DIR": str(tmp / "manifests")})
        env = {**os.environ}
        import zoo

        small = zoo.train("digits-cnn", epochs=1, out=tmp / "small", progress=False).run_dir if args.only in (None, "load") else None
        benches = {
            "cli": lambda: bench_cli(repeats, env),
            "fetch": lambda: bench_fetch(tmp, 20 if args.quick else 100, repeats if args.quick else 9),
            "load": lambda: bench_load(tmp, repeats if args.quick else 11, small),
            "train": lambda: bench_train(tmp, 10 if args.quick else 30, 3 if args.quick else 11),
            "compare": lambda: bench_compare(tmp, 3 if args.quick else 10, 1 if args.quick else 5),
            "mirrored": lambda: bench_mirrored(tmp, 2 if args.quick else 10, 1 if args.quick else 3, (2,) if args.quick else (1, 2)),
            "serving": lambda: bench_serving(tmp, [50] if args.quick else [200, 1000], 3 if args.quick else 7),
            "finetune": lambda: bench_finetune(tmp, [1, 2] if args.quick else [10, 50, 100], [2] if args.quick else [3, 10]),
            "growth": lambda: bench_growth(tmp, [10, 100] if args.quick else [10, 100, 1000], [3, 100] if args.quick else [3, 100, 1000],
                                           [5, 20] if args.quick else [10, 100, 1000], [960, 2000] if args.quick else [960, 4960, 9960],
                                           3 if args.quick else 5, None if args.quick else Path(__file__).parent / "growth.png"),
        }
        rows = [r for name, bench in benches.items() if args.only in (None, name) for r in bench()]
    print(f"{'what':<68} {'zoo':>9} {'by hand':>9} {'ratio':>7} {'goal':>6}  verdict")
    for r in rows:
        print(f"{r['what']:<68} {r['zoo']:>9.3f} {r.get('by_hand', float('nan')):>9.3f} {r.get('ratio', float('nan')):>7.2f} "
              f"{r['goal'] if r['goal'] is not None else '-':>6}  {r['verdict']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "quick": args.quick, "rows": rows}, indent=2))


def machine() -> dict:
    """Where the numbers came from: they are ratios on this machine, not absolutes."""
    import platform
    from importlib.metadata import version

    from zoo.tf import keras, tf

    return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, **{pkg: version(pkg) for pkg in ("huggingface_hub", "olah", "h5py")}}


if __name__ == "__main__":
    main()
