"""Built-in recipes, one module each. Importing this package registers them."""

from zoo.recipes import digits_cnn, digits_mlp, digits_wide_mlp, mnist_lenet, shapes_yolo  # noqa: F401
