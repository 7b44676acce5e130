"""The LeNet model class of ``mnist-lenet``, at module level and registered with Keras as
``zoo>LeNet``, so a ``config.json`` naming it loads once this module is imported
(``keras.saving.load_model("hf://ORG/NAME")`` after ``import zoo.recipes.lenet_model``).

This module imports TensorFlow; the recipe imports it only when it builds a model.
"""

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
