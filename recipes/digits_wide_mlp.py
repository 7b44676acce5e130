"""digits-wide-mlp: a deliberately large MLP on the 8x8 digits, for measuring at scale.

``depth`` hidden layers of ``width`` units: about (depth - 1)·width² + 75·width parameters.
The default (5 × 2560) holds 26.4M parameters, 106 MB of float32 weights, none larger than
26 MB, so it shards; ``depth=2, width=9960`` holds 100M (400 MB). It is trained for a few
epochs by the optional ``pytest -m large`` test and measured by the benchmarks, never
trained by the reference zoo's build (``reference=False``).
"""

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import FLAT_DIGITS_INPUT
from zoo.registry import register_recipe


@register_recipe(
    name="digits-wide-mlp",
    version=1,
    description="Wide MLP (64, 5 x 2560, 10: 26.4M parameters) on scikit-learn's 8x8 digits: a large model for measuring.",
    **FLAT_DIGITS_INPUT,
    train=TrainConfig(optimizer="adam", learning_rate=1e-4, batch_size=64, epochs=3, seed=0),
    save_at=(1, 3),
    builder_kwargs={"width": 2560, "depth": 5},
    head=("classes",),
    kwargs_schema={"type": "object", "additionalProperties": False,
                   "properties": {"num_classes": {"type": "integer", "minimum": 2, "maximum": 100000}, "width": {"type": "integer", "minimum": 1, "maximum": 16384},
                                  "depth": {"type": "integer", "minimum": 1, "maximum": 16}}},
    max_params=300_000_000,
    style="sequential",
    reference=False,
    input_description="An 8x8 grey digit, light ink on a dark ground, pixel values in [0, 1] (scikit-learn's 0-16 divided by 16), "
    "flattened row by row into 64 values.",
)
def build(width=2560, depth=5, num_classes=10):
    from zoo.tf import keras

    hidden = [keras.layers.Dense(width, activation="relu", name=f"hidden_{i}") for i in range(depth)]
    return keras.Sequential([keras.Input((64,), name="pixels"), *hidden, keras.layers.Dense(num_classes, activation="softmax", name="classes")],
                            name="digits_wide_mlp")
