"""Small helpers shared by the fixture writers."""
import numpy as np
import torch


def f32(t):
    """A tensor or array as a contiguous float32 numpy array (the form the fixtures store)."""
    if torch.is_tensor(t):
        t = t.detach().contiguous().cpu().numpy()
    return np.ascontiguousarray(t, dtype=np.float32)


def as64(t):
    if torch.is_tensor(t):
        t = t.detach().contiguous().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def relative_error(a, b):
    """‖a − b‖ / ‖b‖ in float64 (‖a − b‖ when b is zero): the measure DESIGN.md's tolerances use."""
    a, b = as64(a), as64(b)
    norm = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    return diff / norm if norm > 0 else diff


def worst_step_error(a, b):
    """max_i |a_i − b_i| / |b_i|: the measure of a sequence of losses."""
    a, b = as64(a), as64(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))
