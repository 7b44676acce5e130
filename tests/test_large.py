"""The large recipe at its real size (``pytest -m large``; not in the default suite: it
trains 26.6M parameters and writes about 1.3 GB): digits-wide-mlp trains, saves 106 MB of
weights per epoch as Keras shards (no weight larger than 26 MB), publishes to a real olah, and loads back from it."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.formats import manifest as mf

pytestmark = pytest.mark.large


def test_the_large_recipe_round_trips_sharded_through_a_real_hub(hub_dir, hub, tmp_path):
    from zoo.constants import user_manifests_dir
    from zoo.workflows.publishing import publish

    run = zoo.train("digits-wide-mlp", epochs=1, out=tmp_path / "run", progress=False, shard_size="40MB").run_dir
    entry = mf.load(run / "zoo.json").epochs[-1]
    assert entry.weights_size > 100 * 10**6 and len(entry.shards) >= 3  # 106 MB in shards of at most 40 MB
    publish(run, "zoo/digits-wide-mlp", hub_dir=hub_dir, manifests_dir=user_manifests_dir())
    fetched = zoo.fetch("digits-wide-mlp")
    assert len(fetched) == 1 + len(entry.shards) and not any(f.cached for f in fetched)
    x = zoo.get_recipe("digits-wide-mlp").dataset.load().test[0][:64]
    np.testing.assert_array_equal(zoo.load_pretrained("digits-wide-mlp").predict(x, verbose=0),
                                  zoo.load_pretrained(str(run)).predict(x, verbose=0))
