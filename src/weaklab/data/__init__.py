"""Data, in the order it flows: `sources` (bytes on disk or in a package → one ArraySource), `supervision` (what is
known of each training sample: labeled subsets, noise, candidate sets, folds), `store` (splits on the device or
served from host memory, the sampler), `views` (augmentation on the device).

May import: weaklab.config, weaklab.errors, weaklab.core. Never the methods, the engine or the benchmarks."""
