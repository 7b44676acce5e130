"""What a user does with a model: train, publish, load, evaluate, compare, predict, export.
Each workflow composes the formats, the hub client and the recipes; none talks to a user."""
