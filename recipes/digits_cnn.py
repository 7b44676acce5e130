"""digits-cnn: a Functional CNN with Dropout on scikit-learn's bundled 8x8 digits."""

import functools

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import DIGIT_CLASSES, DIGITS_IMAGES, digit_input, digit_raw_input
from zoo.registry import register_recipe


@register_recipe(
    name="digits-cnn",
    version=1,
    description="Functional CNN (two conv blocks, Dropout) on scikit-learn's 8x8 digits.",
    input_shape=(8, 8, 1),
    dataset=DIGITS_IMAGES,
    train=TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=100, seed=0),
    builder_kwargs={"filters": [32, 64], "dropout": 0.3},
    head=("classes",),
    kwargs_schema={"type": "object", "additionalProperties": False, "properties": {
        "num_classes": {"type": "integer", "minimum": 2, "maximum": 100000},
        "filters": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer", "minimum": 1, "maximum": 1024}},
        "dropout": {"type": "number", "minimum": 0, "maximum": 0.95}}},
    max_params=5_000_000,
    class_names=DIGIT_CLASSES,
    preprocess=functools.partial(digit_input, input_shape=(8, 8, 1)),
    raw_shape=(8, 8, 1),
    raw_input=digit_raw_input((8, 8, 1)),
    style="functional",
    input_description="An 8x8 grey digit, light ink on a dark ground (zoo predict inverts a dark digit on light paper), "
    "pixel values in [0, 1] (scikit-learn's 0-16 divided by 16), shaped (8, 8, 1).",
)
def build(filters=(32, 64), dropout=0.3, num_classes=10):
    from zoo.tf import keras

    inputs = keras.Input((8, 8, 1), name="image")
    x = inputs
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv_{i}")(x)
        if i < len(filters) - 1:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
