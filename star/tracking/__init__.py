"""Optional experiment tracking: per-round metrics and the trainer's curves in MLflow,
TensorBoard or Weights & Biases, next to what the store keeps.

The store stays the source of truth; a tracker is a copy for people who already
look there. `star.tracking.session.open_tracking` picks the backend from the
`tracking:` config; each backend is one small module behind `Tracker`
(star/tracking/base.py). This package imports no backend library until one is used.
"""
