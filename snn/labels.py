"""Label assignment and readout (Diehl & Cook 2015; BindsNET ``bindsnet.evaluation``).

``counts`` are spike counts (n_images, N); ``labels`` (n_images,) ints 0..9.
"""

from __future__ import annotations

import numpy as np

N_CLASSES = 10


def class_rates(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean spike count per (neuron, class), shape (N, 10); classes never shown give 0."""
    counts = np.asarray(counts, dtype=np.float64)
    onehot = np.eye(N_CLASSES)[np.asarray(labels, dtype=np.int64)]  # (n, 10)
    n_per = onehot.sum(0)
    return (counts.T @ onehot) / np.maximum(n_per, 1.0)


def assign_labels(counts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(assignments (N,) int64 = class of highest mean response, proportions (N, 10) = rates / row sum)."""
    rates = class_rates(counts, labels)
    assignments = rates.argmax(1).astype(np.int64)
    tot = rates.sum(1, keepdims=True)
    proportions = np.divide(rates, tot, out=np.zeros_like(rates), where=tot > 0)
    return assignments, proportions


def _onehot(assignments: np.ndarray) -> np.ndarray:
    """(N, 10) float one-hot of the class per neuron; a neuron assigned −1 (BindsNET: never fired) has none."""
    return (np.asarray(assignments)[:, None] == np.arange(N_CLASSES)).astype(np.float64)


def predict_all_activity(counts: np.ndarray, assignments: np.ndarray) -> np.ndarray:
    """Class whose assigned neurons have the highest mean spike count, (n,) int64 (neurons assigned −1 never
    vote)."""
    onehot = _onehot(assignments)  # (N, 10)
    n_assigned = onehot.sum(0)
    score = np.asarray(counts, np.float64) @ onehot / np.maximum(n_assigned, 1.0)
    score[:, n_assigned == 0] = -1.0
    return score.argmax(1)


def predict_proportion(counts: np.ndarray, assignments: np.ndarray, proportions: np.ndarray) -> np.ndarray:
    """Proportion weighting: Σ over neurons assigned to class c of count·proportion[c], / number assigned."""
    onehot = _onehot(assignments)
    n_assigned = onehot.sum(0)
    score = (np.asarray(counts, np.float64) @ (proportions * onehot)) / np.maximum(n_assigned, 1.0)
    score[:, n_assigned == 0] = -1.0
    return score.argmax(1)


def confusion_matrix(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(10, 10) int64, rows = true class, columns = predicted class."""
    cm = np.zeros((N_CLASSES, N_CLASSES), np.int64)
    np.add.at(cm, (np.asarray(true, np.int64), np.asarray(pred, np.int64)), 1)
    return cm
