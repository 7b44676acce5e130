"""``shapes-folder-cnn``: a recipe from a package of its own, trained on an image folder.

Installing this package (``pip install examples/zoo-shapes-recipe``) is all it takes:
zoo finds the ``zoo.recipes`` entry point in ``pyproject.toml`` and imports this module,
whose decorator registers the recipe. Importing it imports no TensorFlow (``zoo list``
stays fast); the builder imports Keras when a model is built.
"""

from __future__ import annotations

import zoo
from zoo.formats.manifest import TrainConfig

from zoo_shapes_recipe.images import CLASSES, SIDE, image_folder, to_input

SHAPES_FOLDER = zoo.folder_dataset("zoo-shapes-folder-v1", image_folder, to_input, (SIDE, SIDE, 3), seed=0)


@zoo.register_recipe(
    name="shapes-folder-cnn",
    version=1,
    description="A small Functional CNN on 16x16 colour images of circles, squares and triangles, read from a class-folder tree.",
    input_shape=(SIDE, SIDE, 3),
    dataset=SHAPES_FOLDER,
    train=TrainConfig(optimizer="adam", learning_rate=3e-3, batch_size=32, epochs=20, seed=0),
    builder_kwargs={"width": 16},
    # Checked before anything is built from a manifest: the kwargs a manifest may ask for.
    kwargs_schema={"type": "object", "additionalProperties": False, "properties": {
        "width": {"type": "integer", "minimum": 1, "maximum": 256},
        "num_classes": {"type": "integer", "minimum": 2, "maximum": 1000}}},
    max_params=1_000_000,
    head=("classes",),  # where the backbone ends: fine-tuning re-initialises these layers
    class_names=CLASSES,
    preprocess=to_input,
    style="functional",
    save_at=(5, 10, 20),
    input_description="A 16x16 RGB image, values in [0, 1] (any image is resized to 16x16 with a box filter).",
)
def build(width=16, num_classes=len(CLASSES)):
    import keras

    inputs = keras.Input((SIDE, SIDE, 3), name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv_0")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool_0")(x)
    x = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv_1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="shapes_folder_cnn")
