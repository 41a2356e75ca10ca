"""Small fixtures shared by the policy tests."""

import jax
import numpy as np
import pytest


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key, so every run of a test draws the same numbers."""
    return jax.random.key(0)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed NumPy generator for building random instances."""
    return np.random.default_rng(0)
