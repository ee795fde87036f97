"""Evaluation: score a trained model and its task's baseline on the same test split."""
