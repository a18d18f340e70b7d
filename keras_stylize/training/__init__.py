"""Training: `FitConfig` (`config`: every setting and its default), `fit_style` (`fit`:
the whole job behind `keras_stylize fit`), the `StylizationModel` (`model`) and its
optional loss terms (`terms`, with the camera motion of `motion`), the content and style
data (`data`), the resumable checkpoint (`checkpoint`), the other callbacks
(`callbacks`) and several devices (`distribute`).

Training loads generators through `keras_stylize.zoo` and never imports inference.
Importing this package (and `config`) does not import TensorFlow.
"""
