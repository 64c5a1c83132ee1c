"""One random stream per chain, spawned from a seed, used like a ``numpy`` Generator.

The samplers draw arrays whose leading axis is the chain axis
(``rng.standard_normal(W.shape)``, ``rng.uniform(lo, hi, C)``, ``rng.random((C, k))``).
:class:`ChainStreams` serves exactly these calls from one independent generator per
chain: row ``c`` of every draw comes from chain ``c``'s own generator, so the draws of
chain ``c`` depend on ``(seed, c)`` only, never on how many chains run in the same
process or on which worker. Groups of chains (:meth:`ChainStreams.take`) can then be
advanced in different processes and joined again (:meth:`ChainStreams.concatenate`)
without changing a bit.

A draw without a leading chain axis (``rng.random()``) has no owner and is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ChainStreams", "as_generator"]


def _size(size: Any) -> tuple[int, ...]:
    if size is None:
        return ()
    if isinstance(size, int | np.integer):
        return (int(size),)
    return tuple(int(k) for k in size)


class ChainStreams:
    """Independent ``numpy.random.Generator`` streams, one per chain.

    Parameters
    ----------
    generators : sequence of numpy.random.Generator
        The stream of chain ``c`` at position ``c``. Use :meth:`from_seed` to spawn them.

    Notes
    -----
    Every draw method takes a ``size`` whose first entry is a multiple ``k * C`` of the
    number of chains ``C``: rows ``c k .. (c + 1) k - 1`` come from chain ``c`` (the
    layout of an array ``(C, k, ...)`` reshaped to ``(C k, ...)``). Distribution
    parameters must be scalars.
    """

    def __init__(self, generators: Sequence[np.random.Generator]) -> None:
        generators = list(generators)
        for g in generators:
            if not isinstance(g, np.random.Generator):
                raise TypeError(f"ChainStreams needs numpy Generators, got {g!r}")
        self.generators = generators

    @classmethod
    def from_seed(cls, seed: int, n_chains: int) -> ChainStreams:
        """Streams of ``numpy.random.SeedSequence(seed).spawn(n_chains)`` (PCG64)."""
        children = np.random.SeedSequence(seed).spawn(n_chains)
        return cls([np.random.Generator(np.random.PCG64(s)) for s in children])

    @property
    def n_chains(self) -> int:
        """The number of chains ``C``."""
        return len(self.generators)

    def __len__(self) -> int:
        return len(self.generators)

    def __repr__(self) -> str:
        return f"ChainStreams(n_chains={self.n_chains})"

    # ---- groups of chains --------------------------------------------------------------
    def take(self, chains: slice) -> ChainStreams:
        """The streams of a contiguous group of chains (the same generator objects)."""
        return ChainStreams(self.generators[chains])

    @classmethod
    def concatenate(cls, groups: Sequence[ChainStreams]) -> ChainStreams:
        """Join groups of streams, in order, into one."""
        return cls([g for grp in groups for g in grp.generators])

    # ---- draws ---------------------------------------------------------------------------
    def stack(
        self, draw: Callable[[np.random.Generator, tuple[int, ...]], NDArray], size: Any
    ) -> NDArray:
        """``draw(generator_c, (k, *rest))`` for every chain ``c``, joined along axis 0.

        Parameters
        ----------
        draw : callable
            ``draw(generator, size)`` returning an array of shape ``(*size, ...)``.
        size : int or tuple of int
            The full shape ``(k C, *rest)``; its first entry must be a multiple of ``C``.

        Returns
        -------
        numpy.ndarray
            Shape ``(k C, *rest, ...)``: the draws of chain ``c`` in rows ``c k`` to
            ``(c + 1) k - 1``.
        """
        shape = _size(size)
        C = self.n_chains
        if not shape or C == 0 or shape[0] % C:
            raise ValueError(
                f"a draw from per-chain streams needs a leading axis that is a multiple of "
                f"the number of chains ({C}), got size {size!r}"
            )
        per_chain = (shape[0] // C, *shape[1:])
        return np.concatenate([draw(g, per_chain) for g in self.generators], axis=0)

    @staticmethod
    def _scalar(**params: Any) -> None:
        for name, v in params.items():
            if np.ndim(v) != 0:
                raise ValueError(f"per-chain streams take scalar parameters, got {name}={v!r}")

    def standard_normal(self, size: Any = None, dtype: Any = np.float64) -> NDArray:
        """Standard normal draws of shape ``size`` (leading chain axis)."""
        return self.stack(lambda g, s: g.standard_normal(s, dtype=dtype), size)

    def random(self, size: Any = None, dtype: Any = np.float64) -> NDArray:
        """Uniform draws on ``[0, 1)`` of shape ``size`` (leading chain axis)."""
        return self.stack(lambda g, s: g.random(s, dtype=dtype), size)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> NDArray:
        """Uniform draws on ``[low, high)`` of shape ``size`` (leading chain axis)."""
        self._scalar(low=low, high=high)
        return self.stack(lambda g, s: g.uniform(low, high, s), size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> NDArray:
        """Normal draws of shape ``size`` (leading chain axis)."""
        self._scalar(loc=loc, scale=scale)
        return self.stack(lambda g, s: g.normal(loc, scale, s), size)

    def exponential(self, scale: float = 1.0, size: Any = None) -> NDArray:
        """Exponential draws of shape ``size`` (leading chain axis)."""
        self._scalar(scale=scale)
        return self.stack(lambda g, s: g.exponential(scale, s), size)

    def integers(self, low: int, high: int | None = None, size: Any = None) -> NDArray:
        """Integers in ``[low, high)`` of shape ``size`` (leading chain axis)."""
        self._scalar(low=low, high=high)
        return self.stack(lambda g, s: g.integers(low, high, s), size)


def as_generator(rng: Any) -> np.random.Generator | ChainStreams:
    """``rng`` itself if it is per-chain streams, else ``numpy.random.default_rng(rng)``."""
    return rng if isinstance(rng, ChainStreams) else np.random.default_rng(rng)
