"""The model class of ``shapes-yolo``, at module level and registered with Keras as
``zoo>ShapesYOLO`` (its loss as ``zoo>yolo_loss``), so a ``config.json`` or ``.keras``
naming them loads once this module is imported.

This module imports TensorFlow; the recipe imports it only when it builds a model.
"""

from zoo.recipes.shapes_yolo import yolo_loss
from zoo.tf import keras

keras.saving.register_keras_serializable(package="zoo", name="yolo_loss")(yolo_loss)


@keras.saving.register_keras_serializable(package="zoo")
class ShapesYOLO(keras.Model):
    """A stride-2 3x3 conv, then 3x3 conv + 2x2 max-pool stages, a 3x3 neck (ReLU
    everywhere), and a 1x1 head of ``5 + num_classes`` logits per grid cell."""

    def __init__(self, filters=(8, 16, 32), neck=64, num_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.neck_filters, self.num_classes = list(filters), neck, num_classes
        # The first stage downsamples with a stride-2 conv: at 64x64, conv + pool took
        # 1.7x the training time here for the same mAP.
        self.convs = [
            keras.layers.Conv2D(f, 3, strides=2 if i == 0 else 1, padding="same", activation="relu", name=f"conv{i + 1}")
            for i, f in enumerate(self.filters)
        ]
        self.pools = [keras.layers.MaxPooling2D(2, name=f"pool{i + 1}") for i in range(1, len(self.filters))]
        self.neck = keras.layers.Conv2D(neck, 3, padding="same", activation="relu", name="neck")
        self.head = keras.layers.Conv2D(5 + num_classes, 1, name="head")

    def call(self, inputs):
        x = self.convs[0](inputs)
        for conv, pool in zip(self.convs[1:], self.pools):
            x = pool(conv(x))
        return self.head(self.neck(x))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "neck": self.neck_filters,
            "num_classes": self.num_classes,
        }
