"""digits-mlp: a Sequential MLP on scikit-learn's bundled 8x8 digits."""

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import FLAT_DIGITS_INPUT
from zoo.registry import register_recipe


@register_recipe(
    name="digits-mlp",
    version=1,
    description="Sequential MLP (64-128-64-10) on scikit-learn's 8x8 digits.",
    **FLAT_DIGITS_INPUT,
    train=TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=100, seed=0),
    builder_kwargs={"hidden": [128, 64]},
    head=("classes",),
    kwargs_schema={"type": "object", "additionalProperties": False,
                   "properties": {"num_classes": {"type": "integer", "minimum": 2, "maximum": 100000}, "hidden": {"type": "array", "maxItems": 8, "items": {"type": "integer", "minimum": 1, "maximum": 4096}}}},
    max_params=5_000_000,
    style="sequential",
    input_description="An 8x8 grey digit, light ink on a dark ground (zoo predict inverts a dark digit on light paper), "
    "pixel values in [0, 1] (scikit-learn's 0-16 divided by 16), flattened row by row into 64 values.",
)
def build(hidden=(128, 64), num_classes=10):
    from zoo.tf import keras

    layers = [keras.Input((64,), name="pixels")]
    for i, width in enumerate(hidden):
        layers.append(keras.layers.Dense(width, activation="relu", name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="classes"))
    return keras.Sequential(layers, name="digits_mlp")
