"""The training engine: it assembles a run (experiment.py), owns the loop and knows no method or dataset by name.

May import: config, errors, core, data, models, methods (through their registry and base class only); crossval.py,
which runs K whole trainings, also the API."""
