"""The perceptual loss: the VGG19 loss network (`vgg`, its layer names in `layers`), its
weights and where they come from (`weights`, with `torch_legacy`, a restricted reader of
legacy PyTorch files), the loss functions (`losses`) and `PerceptualLoss` (`loss`), which
scores images against style targets and is independent of any generator.

Importing this package (and `layers`) does not import TensorFlow.
"""
