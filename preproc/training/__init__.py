"""The trainer behind `python -m preproc.train`, in pieces: `config` (the named configs), `data` (patches,
pairs, the loader), `loop` (train, resume, validate, checkpoints) and `export` (shippable weights, model
card)."""
