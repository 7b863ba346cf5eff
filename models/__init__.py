"""Sample-GAN models (Keras 3) and the variant registry.

`config` holds every knob, `parts` the name -> class table of each axis a variant swaps,
`registry` the named variants, `sample_gan` assembles one model from its parts (one module
per part). May import: nothing from `harness`; `errors` is the base the harness's error
hierarchy builds on.
"""
