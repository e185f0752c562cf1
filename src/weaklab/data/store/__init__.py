"""Stores: the normalised splits where training reads them: whole on the device (device.py), or served from host
memory or a memory-mapped file (host.py, rows.py); ZCA whitening (zca.py); the two-stream sampler (sampler.py).

May import: weaklab.errors and the rest of weaklab.data.store."""
