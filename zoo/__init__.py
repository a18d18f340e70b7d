"""Data package of the keras_stylize model zoo (installed as `keras_stylize._zoo`).

One folder per model: model.keras, card.json, style.jpg, preview.jpg. No code here.
"""
