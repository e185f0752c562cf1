"""Views: the augmentations methods ask for, made on the device in batches (pipeline.py), and the weak and strong
image operations and policies they use (augment.py).

May import: weaklab.errors and the rest of weaklab.data.views."""
