"""File formats, each owned by one module: the manifest, the fingerprints, the checkpoint
files and the model card. No network here, and TensorFlow only where a model is saved."""
