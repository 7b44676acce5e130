"""The fast tier: resolution, verification, epoch specs, the registry, the catalog and the CLI's
words, with neither TensorFlow nor a server. ``pytest -m fast`` runs it in seconds; the
last test proves it runs with TensorFlow unimportable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import runner

import zoo
from zoo import catalog, errors, registry
from zoo.cli import app
from zoo.cli.app import FLAGS, in_cli_words
from zoo.cli.exit_codes import EXIT_CODES, exit_code
from zoo.constants import bundled_manifests_dir
from zoo.formats import manifest as mf
from zoo.integrity import verify_file
from zoo.resolve import FileSource, HubSource, RunSource, resolve, split_epoch

pytestmark = pytest.mark.fast


@pytest.fixture()
def empty_user_catalog(monkeypatch, tmp_path):
    directory = tmp_path / "user-catalog"
    directory.mkdir()
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(directory))
    return directory


def _bundled(name: str) -> mf.Manifest:
    return mf.load(bundled_manifests_dir() / f"{name}.json")


def _run_dir(root: Path, name: str = "digits-cnn") -> Path:
    """A run directory's manifest (files are not needed to resolve it)."""
    root.mkdir(parents=True, exist_ok=True)
    mf.write(_bundled(name).replace(hub=None), root / "zoo.json")
    return root


# -- the package ------------------------------------------------------------------------------
def test_dir_and_help_of_the_package_work():
    names = dir(zoo)
    assert {"load_pretrained", "fetch", "compare", "ZooError", "resolve"} <= set(names)
    proc = subprocess.run([sys.executable, "-c", "import zoo; help(zoo)"], capture_output=True, text=True, env={**os.environ, "PAGER": "cat"})
    assert proc.returncode == 0 and "pretrained-checkpoint zoo" in proc.stdout, proc.stderr


# -- resolution -------------------------------------------------------------------------------
def test_a_bare_name_is_the_published_model_even_with_a_same_named_folder_here(empty_user_catalog, tmp_path, monkeypatch):
    _run_dir(tmp_path / "cwd" / "digits-cnn")
    monkeypatch.chdir(tmp_path / "cwd")
    published = resolve("digits-cnn")
    assert isinstance(published, HubSource) and published.repo_id == "zoo/digits-cnn"
    assert zoo.get_manifest("digits-cnn").hub.repo_id == "zoo/digits-cnn"
    local = resolve("./digits-cnn")
    assert isinstance(local, RunSource) and local.run_dir == Path("digits-cnn") and local.manifest.hub is None


def test_local_paths_are_run_directories_manifests_or_model_files(tmp_path, monkeypatch):
    run = _run_dir(tmp_path / "runs" / "digits-cnn")
    (tmp_path / "w.weights.h5").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert isinstance(resolve("runs/digits-cnn"), RunSource)  # exists, so a path and not a repo id
    assert resolve(str(run / "zoo.json")).run_dir == run
    assert isinstance(resolve("w.weights.h5"), FileSource)
    with pytest.raises(errors.UnknownModelError, match="no such file or directory"):
        resolve("./nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.UnknownModelError, match="not a run directory"):
        resolve("./empty")


@pytest.mark.parametrize(
    "text,revision",
    [
        ("hf://ORG/NAME@..", None), ("hf://zoo/digits-cnn@", None), ("zoo/digits-cnn@a/b", None),
        ("hf://zoo/digits-cnn", ".."), ("hf://zoo/digits-cnn", ""), ("digits-cnn", "../../x"),
        ("hf://not a repo", None), ("hf://a/b/c", None), ("", None), ("x" * 100_000, None),
    ],
)
def test_bad_references_are_usage_errors_before_any_request(text, revision, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a request would fail otherwise
    with pytest.raises(errors.UsageError):
        resolve(text, revision)


def test_a_revision_given_twice_must_agree():
    with pytest.raises(errors.UsageError, match="names revision epoch-1"):
        resolve("hf://zoo/digits-cnn@epoch-1", "epoch-2")


@pytest.mark.parametrize("text,expected", [("digits-cnn@50", ("digits-cnn", "50")), ("zoo/x@best", ("zoo/x", "best")),
                                           ("hf://zoo/x@epoch-10", ("hf://zoo/x@epoch-10", None)), ("digits-cnn", ("digits-cnn", None))])
def test_an_epoch_suffix_is_split_from_a_reference(text, expected):
    assert split_epoch(text) == expected


# -- epochs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [2.9, True, False, "", "²", "ten", [10], -0.0])
def test_an_epoch_spec_that_is_not_an_epoch_is_refused_not_rounded(spec):
    with pytest.raises(errors.UsageError, match="is not an epoch"):
        _bundled("digits-mlp").resolve_epoch(spec)


def test_epoch_words_and_numbers_resolve():
    m = _bundled("digits-mlp")
    assert m.resolve_epoch(None).epoch == m.default_epoch
    assert m.resolve_epoch("last").epoch == m.last_epoch
    assert m.resolve_epoch("best").epoch == m.best_epoch
    assert m.resolve_epoch("10").epoch == m.resolve_epoch(10).epoch == 10
    with pytest.raises(errors.UnknownEpochError, match="Available epochs: 10, 50, 100"):
        m.resolve_epoch(11)


# -- integrity ---------------------------------------------------------------------------------
def test_verify_file_checks_size_then_sha256_and_names_the_file(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    entry = mf.FileEntry("epochs/e001/f.bin", hashlib.sha256(b"hello").hexdigest(), 5, "weights")
    assert verify_file(path, entry) == path
    path.write_bytes(b"hellO")
    with pytest.raises(errors.IntegrityError, match="sha256 mismatch for epochs/e001/f.bin"):
        verify_file(path, entry)
    path.write_bytes(b"hell")
    with pytest.raises(errors.IntegrityError, match="size mismatch .* expected 5 bytes, got 4 bytes"):
        verify_file(path, entry)
    path.unlink()
    with pytest.raises(errors.IntegrityError, match="got no file") as info:
        verify_file(path, entry, shown_as=str(path))
    assert info.value.path == str(path)


def test_a_file_verified_once_is_hashed_again_after_any_write_even_with_its_times_put_back(tmp_path):
    import hashlib

    from zoo import integrity

    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    entry = mf.FileEntry("f.bin", hashlib.sha256(b"hello").hexdigest(), 5, "weights")
    verify_file(path, entry)
    assert integrity.VERIFIED.get(integrity.file_identity(path)) == entry.sha256  # remembered: the next hand-out skips the hash
    before = path.stat()
    with open(path, "r+b") as fh:  # same size, same path, same inode
        fh.write(b"J")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the modification time put back
    with pytest.raises(errors.IntegrityError, match="sha256 mismatch"):
        verify_file(path, entry)


# -- registry ----------------------------------------------------------------------------------
def _another_digits_cnn():
    """Stands for a plugin's builder that claims a built-in recipe's name."""


def test_a_plugin_registering_an_existing_recipe_name_is_refused_naming_both_modules():
    before = registry.get_recipe("digits-cnn")
    spec = dict(name="digits-cnn", version=9, description="x", input_shape=(8, 8, 1), dataset=before.dataset, train=before.train)
    with pytest.raises(errors.UsageError) as info:
        registry.register_recipe(**spec)(_another_digits_cnn)
    assert "zoo.recipes.digits_cnn.build" in info.value.message and f"{__name__}._another_digits_cnn" in info.value.message
    assert registry.get_recipe("digits-cnn") is before


def test_registering_the_same_builder_again_is_allowed():
    import dataclasses

    recipe = registry.get_recipe("digits-mlp")
    fields = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe) if f.name != "builder"}
    registry.register_recipe(**fields)(recipe.builder)  # what a second import of the module does
    assert registry.get_recipe("digits-mlp") == recipe


@pytest.mark.parametrize("epochs", [0, -1, True, 2.5])
def test_training_for_no_epochs_is_refused_before_anything_is_built(epochs, tmp_path):
    with pytest.raises(errors.UsageError, match="`epochs` must be a positive integer"):
        zoo.train("digits-mlp", epochs=epochs, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# -- the catalog ---------------------------------------------------------------------------------
def test_a_users_model_hides_a_bundled_one_of_the_same_name_and_list_shows_both(empty_user_catalog):
    theirs = _bundled("digits-mlp").replace(hub=mf.HubRef("myorg/digits-mlp", "a" * 40))
    mf.write(theirs, empty_user_catalog / "digits-mlp.json")
    assert catalog.find("digits-mlp").hub.repo_id == "myorg/digits-mlp"
    same_name = [e for e in catalog.entries() if e.name == "digits-mlp"]
    assert [(e.origin, e.shadowed) for e in same_name] == [("user", False), ("bundled", True)]
    listed = json.loads(runner.invoke(app, ["list", "--json"]).stdout)["models"]
    assert [(m["repo_id"], m["shadowed"]) for m in listed if m["name"] == "digits-mlp"] == [("myorg/digits-mlp", False), ("zoo/digits-mlp", True)]
    table = runner.invoke(app, ["list"]).stdout
    assert "digits-mlp (yours)" in table and "digits-mlp (hidden)" in table and "myorg/digits-mlp" in table
    assert "(hidden): bundled, yours hides it" in table


def test_an_unknown_name_suggests_close_ones(empty_user_catalog):
    with pytest.raises(errors.UnknownModelError, match="no published model named 'digits-cn'") as info:
        catalog.find("digits-cn")
    assert "digits-cnn" in info.value.hint


# -- the CLI's words and exit codes -------------------------------------------------------------
def test_api_parameters_in_messages_become_flags():
    assert in_cli_words("pass `epochs` or `all_epochs=True`, not both", {**FLAGS, "epochs": "--epoch"}) == "pass --epoch or --all, not both"
    assert in_cli_words("Name it `name='digits-cnn'`.", FLAGS) == "Name it --name digits-cnn."
    assert in_cli_words("ask for `save_at=[1, 2]`", FLAGS) == "ask for --save-at 1,2"
    assert in_cli_words("`unknown_param` stays", FLAGS) == "`unknown_param` stays"


def test_every_error_class_has_an_exit_code_of_its_own_or_its_parents():
    classes = [getattr(errors, n) for n in errors.__all__]
    assert set(EXIT_CODES) <= set(classes)
    own = [EXIT_CODES[c] for c in classes if c in EXIT_CODES]
    assert len(own) == len(set(own)), "two classes share a code"
    for cls in classes:
        assert exit_code(cls("x") if cls is not errors.IntegrityError else cls("p", expected="a", actual="b")) >= 1


def test_no_api_message_uses_a_cli_flag():
    """Only zoo/cli knows flags: API messages name parameters."""
    import re

    root = Path(zoo.__file__).parent
    offenders = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if "cli" not in p.relative_to(root).parts and p.name != "modelcard.py"  # the card shows `hf download` lines
                 for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"""["'].*\s--[a-z][a-z-]+""", line) and "git" not in line]
    assert offenders == []


# -- the tier itself ------------------------------------------------------------------------------
@pytest.mark.slow_meta
def test_the_fast_tier_runs_with_tensorflow_unimportable(tmp_path):
    env = {**os.environ, "ZOO_TEST_WITHOUT_TENSORFLOW": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "fast and not slow_meta", "-p", "no:cacheprovider", str(Path(__file__))],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
