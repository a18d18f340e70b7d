"""Inference: `stylize` one image (`stylize`), with one `InferenceSession` per generator
and precision (`session`) owning the compiled pass, the precision copy (`precision`),
the memory estimate (`memory`) and the tile model of tiled inference (`tiling`); contact
sheets of styles (`sheets`)."""
