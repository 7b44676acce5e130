"""The private Keras names zoo relies on (``zoo/formats/keras_internals.py``) are still there,
with the signatures zoo calls them with; a Keras upgrade that moves them fails here loudly."""

from __future__ import annotations

import pytest

from zoo.errors import DependencyError
from zoo.formats import keras_internals


def test_every_private_name_has_the_signature_zoo_calls_it_with():
    keras_internals.check.cache_clear()
    keras_internals.check()  # raises DependencyError naming what changed


def test_a_changed_signature_is_refused_naming_it(monkeypatch):
    from keras.src.saving import saving_lib

    def _save_state(saveable, weights_store, assets_store, inner_path, visited_saveables, failed_saveables):  # one more parameter
        raise AssertionError("never called")

    monkeypatch.setattr(saving_lib, "_save_state", _save_state)
    keras_internals.check.cache_clear()
    try:
        with pytest.raises(DependencyError, match=r"saving_lib\._save_state\(.*'failed_saveables'\) was"):
            keras_internals.check()
    finally:
        keras_internals.check.cache_clear()
