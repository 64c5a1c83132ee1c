"""The three fields R, C, H (Dyson index b = 1, 2, 4) and matrices over them.

docs/guide/fields.md: every definition of the real DLN is read over
``F = R, C, H`` with ``^T`` replaced by the conjugate transpose ``^*`` and the
real inner product ``<V, W> = Re tr(V^* W)``, which for ``H`` is the sum of
products of all four real components.

Representation (the storage convention of every field-aware function)
---------------------------------------------------------------------
- ``"real"``: float64 arrays ``(..., d, d)``, as in the rest of dlnmc.
- ``"complex"``: complex128 arrays ``(..., d, d)``.
- ``"quaternion"``: a quaternionic matrix ``Q = A + B j`` (``A, B`` complex
  ``d x d``, ``j z = conj(z) j`` for complex ``z``) is stored as its complex
  ``2d x 2d`` representation

      chi(Q) = [[A, B], [-conj(B), conj(A)]]      complex128, shape (..., 2d, 2d).

  A quaternion ``q = q0 + q1 i + q2 j + q3 k`` has ``a = q0 + i q1`` and
  ``b = q2 + i q3`` (because ``(q2 + i q3) j = q2 j + q3 k``). ``chi`` is an
  injective real-algebra homomorphism with ``chi(Q^*) = chi(Q)^*``, so
  products, conjugate transposes, inverses and unitarity are plain complex
  matrix operations. Its image is ``{M : M J = J conj(M)}`` with
  ``J = [[0, I], [-I, 0]]``. The singular values of ``chi(Q)`` are those of
  ``Q``, each twice; ``Re tr chi(Q) = 2 Re tr_H(Q)``.

  The factor that matters: ``Re tr(chi(V)^* chi(W)) = 2 <V, W>_H``, because
  every real component appears twice in ``chi``. :func:`inner` and
  :func:`to_components` divide it out, so the ambient Euclidean space of
  ``M_d(H)`` is ``R^{4 d^2}`` with the sum of squares of all four components.

Real coordinates ("realification"): :func:`to_components` gives the ``b`` real
components of every entry, shape ``(..., d, d, b)`` in the order
``(re, i, j, k)``; flattening them gives an isometry ``M_d(F) -> R^{b d^2}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln

from dlnmc._validation import check_finite, check_width
from dlnmc.streams import ChainStreams, as_generator

__all__ = [
    "COMPLEX",
    "COMPONENT_LABELS",
    "FIELDS",
    "GRAM_SCHMIDT_MAX_WIDTH",
    "QUATERNION",
    "REAL",
    "Field",
    "check_field",
    "check_field_matrix",
    "complex_to_quaternion",
    "conj_transpose",
    "diag_embed",
    "dyson_index",
    "from_components",
    "gaussian_matrix",
    "group_dimension",
    "haar_gram_schmidt",
    "haar_qr_real",
    "hermitian_dimension",
    "inner",
    "lie_algebra_basis",
    "quaternion_to_complex",
    "real_dimension",
    "realify",
    "rep_size",
    "resolve_field",
    "singular_values_field",
    "svd_field",
    "to_components",
    "width_of",
]

FIELDS = ("real", "complex", "quaternion")
_DYSON = {"real": 1, "complex": 2, "quaternion": 4}
# Names of the real components of an entry, in the order of to_components / from_components
# (the coordinate of the "component" dimension of ensembles over C and H).
COMPONENT_LABELS = {"real": ("re",), "complex": ("re", "i"), "quaternion": ("re", "i", "j", "k")}


def check_field(field: object) -> str:
    """Return ``field`` if it is one of ``"real"``, ``"complex"``, ``"quaternion"``, else raise."""
    if not isinstance(field, str):
        raise TypeError(f"field must be one of {FIELDS}, got {field!r}")
    if field not in _DYSON:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    return field


def dyson_index(field: str | Field) -> int:
    """Dyson index ``b``: 1 for ``"real"``, 2 for ``"complex"``, 4 for ``"quaternion"``."""
    return resolve_field(field).b


def rep_size(d: int, field: str) -> int:
    """Size of the stored square array for a ``d x d`` matrix over ``field`` (``2d`` for ``H``)."""
    return 2 * d if resolve_field(field).b == 4 else d


def width_of(X: NDArray, field: str) -> int:
    """Width ``d`` of stored matrices ``X`` of shape ``(..., n, n)``."""
    n = X.shape[-1]
    return n // 2 if resolve_field(field).b == 4 else n


def real_dimension(d: int, field: str) -> int:
    """``dim_R M_d(F) = b d^2``."""
    return dyson_index(field) * check_width(d, "d") ** 2


def group_dimension(d: int, field: str) -> int:
    """``dim G_d`` for ``G_d = O_d, U_d, Sp_d``: ``b d(d-1)/2 + (b-1) d``.

    Skew-Hermitian matrices over ``F``: imaginary diagonal (``b-1`` real
    dimensions each) and a free upper triangle (``b`` each).
    """
    b, d = resolve_field(field).b, check_width(d, "d")
    return b * d * (d - 1) // 2 + (b - 1) * d


def hermitian_dimension(d: int, field: str) -> int:
    """``dim_R`` of Hermitian ``d x d`` matrices over ``F``: ``d + b d(d-1)/2``."""
    b, d = resolve_field(field).b, check_width(d, "d")
    return d + b * d * (d - 1) // 2


def quaternion_to_complex(A: ArrayLike, B: ArrayLike) -> NDArray[np.complex128]:
    """``chi(A + B j) = [[A, B], [-conj(B), conj(A)]]``.

    Parameters
    ----------
    A, B : array_like, shape (..., m, n)
        Complex parts of ``Q = A + B j`` (broadcast together).

    Returns
    -------
    ndarray, complex128, shape (..., 2m, 2n)
    """
    A = np.asarray(A, dtype=np.complex128)
    B = np.asarray(B, dtype=np.complex128)
    A, B = np.broadcast_arrays(A, B)
    top = np.concatenate([A, B], axis=-1)
    bottom = np.concatenate([-B.conj(), A.conj()], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def complex_to_quaternion(M: ArrayLike) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """Inverse of :func:`quaternion_to_complex`: ``(A, B)`` read off the top block row.

    Returns
    -------
    A, B : ndarray, complex128, shape (..., m, n)
        For ``M`` of shape ``(..., 2m, 2n)``. No structure check (see
        :func:`check_field_matrix`).
    """
    M = np.asarray(M, dtype=np.complex128)
    m, n = M.shape[-2] // 2, M.shape[-1] // 2
    return M[..., :m, :n], M[..., :m, n:]


def from_components(x: ArrayLike, field: str) -> NDArray:
    """Matrices over ``F`` from their real components.

    Parameters
    ----------
    x : array_like, shape (..., m, n, b)
        Real components of each entry, in the order ``(re, i, j, k)``.
    field : str

    Returns
    -------
    ndarray
        ``(..., m, n)`` float64 (real), complex128 (complex), or the complex
        representation ``(..., 2m, 2n)`` (quaternion).
    """
    F = resolve_field(field)
    b = F.b
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 3 or x.shape[-1] != b:
        raise ValueError(f"components for field {F.name!r} must have shape (..., m, n, {b})")
    if F.b == 1:
        return x[..., 0].copy()
    if F.b == 2:
        return x[..., 0] + 1j * x[..., 1]
    return quaternion_to_complex(x[..., 0] + 1j * x[..., 1], x[..., 2] + 1j * x[..., 3])


def to_components(M: ArrayLike, field: str) -> NDArray[np.float64]:
    """Real components of matrices over ``F``: inverse of :func:`from_components`.

    Returns
    -------
    ndarray, float64, shape (..., m, n, b)
        Euclidean in these coordinates is the real inner product of
        docs/guide/fields.md (for ``H``: the factor 2 of the complex representation is
        removed by reading each component once).
    """
    F = resolve_field(field)
    M = np.asarray(M)
    if F.b == 1:
        return np.asarray(M.real, dtype=np.float64)[..., None]
    if F.b == 2:
        return np.stack([M.real, M.imag], axis=-1).astype(np.float64, copy=False)
    A, B = complex_to_quaternion(M)
    return np.stack([A.real, A.imag, B.real, B.imag], axis=-1)


def realify(M: ArrayLike, field: str, n_axes: int = 2) -> NDArray[np.float64]:
    """Flatten the last ``n_axes`` matrix-like axes of ``M`` into real coordinates.

    ``n_axes = 2`` maps one matrix to ``R^{b d^2}``; ``n_axes = 3`` maps a
    stack of layers ``(N, n, n)`` to ``R^{b N d^2}`` (order: layer, row, col,
    component). An isometry for the real inner product.
    """
    c = to_components(M, field)
    lead = c.shape[: c.ndim - 1 - n_axes]
    return c.reshape(*lead, int(np.prod(c.shape[len(lead) :])))


def conj_transpose(M: ArrayLike) -> NDArray:
    """``M^*`` over the last two axes (for ``H`` in the complex representation, too)."""
    M = np.asarray(M)
    return np.swapaxes(M.conj(), -1, -2)


def inner(V: ArrayLike, W: ArrayLike, field: str, n_axes: int = 2) -> NDArray[np.float64]:
    """Real inner product ``Re tr(V^* W)`` over ``F``, summed over the last ``n_axes`` axes.

    For ``"quaternion"`` (complex representation) this is
    ``Re tr(chi(V)^* chi(W)) / 2``: the sum of products of all four real
    components, as docs/guide/fields.md ('1. Representation of quaternionic matrices') requires.

    Returns
    -------
    ndarray, float64, shape (...)
    """
    F = resolve_field(field)
    V, W = np.asarray(V), np.asarray(W)
    prod = (V.conj() * W).real
    out = prod.sum(axis=tuple(range(-n_axes, 0)))
    return 0.5 * out if F.b == 4 else out


def gaussian_matrix(
    d: int,
    field: str,
    size: int | tuple[int, ...] = (),
    rng: np.random.Generator | int | None = None,
) -> NDArray:
    """Standard Gaussian matrices over ``F`` (Ginibre ensemble).

    Every real component is an independent ``N(0, 1)``, i.e. density
    ``(2 pi)^{-b d^2 / 2} exp(-<Z, Z>/2)`` on ``R^{b d^2}``.

    Returns
    -------
    ndarray, shape ``(*size, n, n)``, ``n = rep_size(d, field)``
    """
    F = resolve_field(field)
    d = check_width(d, "d")
    rng = as_generator(rng)
    size = (size,) if isinstance(size, int | np.integer) else tuple(size)
    return from_components(rng.standard_normal((*size, d, d, F.b)), field)


def diag_embed(s: ArrayLike, field: str) -> NDArray:
    """The real diagonal matrix ``diag(s)`` in the storage of ``field``.

    Returns
    -------
    ndarray, shape (..., n, n)
        ``diag(s, s)`` for ``"quaternion"`` (``chi`` of a real diagonal matrix).
    """
    F = resolve_field(field)
    s = np.asarray(s)
    if np.iscomplexobj(s):  # the diagonal is real: never drop an imaginary part silently
        raise TypeError("s must be real (the diagonal of diag_embed); got a complex array")
    s = s.astype(np.float64, copy=False)
    if F.b == 4:
        s = np.concatenate([s, s], axis=-1)
    out = np.zeros((*s.shape, s.shape[-1]), dtype=np.float64 if F.b == 1 else np.complex128)
    idx = np.arange(s.shape[-1])
    out[..., idx, idx] = s
    return out


def check_field_matrix(X: ArrayLike, field: str, name: str = "X", n_axes: int = 2) -> NDArray:
    """Validate stored matrices over ``field`` and return them in the storage dtype.

    Checks: at least ``n_axes`` axes, square in the last two, finite, the
    right dtype kind (a real field rejects complex input), and for
    ``"quaternion"`` an even size and the structure ``M J = J conj(M)`` of the
    complex representation (to ``1e-10`` relative).
    """
    F = resolve_field(field)
    X = np.asarray(X)
    if X.ndim < n_axes:
        raise ValueError(
            f"{name} must have shape (..., n, n) with at least {n_axes} axes, got shape {X.shape}"
        )
    if X.shape[-1] != X.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes, got shape {X.shape}")
    if X.shape[-1] < 1:
        raise ValueError(f"{name} must have width d >= 1, got shape {X.shape}")
    if F.b == 1:
        if np.iscomplexobj(X):
            raise TypeError(f"{name} must be real for field='real'")
        X = X.astype(np.float64, copy=False)
    else:
        X = X.astype(np.complex128, copy=False)
    check_finite(X, name)
    if F.b == 4:
        n = X.shape[-1]
        if n % 2:
            raise ValueError(
                f"{name} must be the complex 2d x 2d representation of a quaternionic matrix; "
                f"got odd size {n}"
            )
        m = n // 2
        A, B = X[..., :m, :m], X[..., :m, m:]
        err = np.maximum(
            np.abs(X[..., m:, m:] - A.conj()).max(initial=0.0),
            np.abs(X[..., m:, :m] + B.conj()).max(initial=0.0),
        )
        if err > 1e-10 * max(1.0, float(np.abs(X).max(initial=0.0))):
            raise ValueError(
                f"{name} is not of the form [[A, B], [-conj(B), conj(A)]] "
                f"(the complex representation of a quaternionic matrix); deviation {err:.3g}"
            )
    return X


def lie_algebra_basis(d: int, field: str) -> NDArray:
    """Orthonormal basis of ``o(d), u(d), sp(d)`` for the real inner product.

    Skew-Hermitian ``B`` over ``F``: for every imaginary unit ``u`` of ``F``
    the diagonal elements ``u E_kk``; for ``k < l`` and every unit
    ``q in {1, i, j, k}`` of ``F``, ``(q E_kl - conj(q) E_lk) / sqrt(2)``.

    Returns
    -------
    ndarray, shape (group_dimension(d, field), n, n)
        In the storage of ``field``. Order: diagonal elements (row, unit),
        then pairs in ``numpy.triu_indices(d, 1)`` order (pair, unit).
    """
    F = resolve_field(field)
    d = check_width(d, "d")
    b = F.b
    iu, ju = np.triu_indices(d, 1)
    comps = []
    for k in range(d):  # d is small: loops build a constant basis once
        for u in range(1, b):
            c = np.zeros((d, d, b))
            c[k, k, u] = 1.0
            comps.append(c)
    for k, l in zip(iu, ju, strict=True):
        for u in range(b):
            c = np.zeros((d, d, b))
            c[k, l, u] = 1.0 / np.sqrt(2.0)
            # -conj(q): -1 for q = 1, +q for an imaginary unit
            c[l, k, u] = (-1.0 if u == 0 else 1.0) / np.sqrt(2.0)
            comps.append(c)
    n = rep_size(d, field)
    if not comps:
        return np.zeros((0, n, n), dtype=np.float64 if F.b == 1 else np.complex128)
    return from_components(np.stack(comps), field)


def _antiunitary(u: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """``K u = -J conj(u)``: the quaternionic structure on ``C^{2d}`` commuting with ``chi(H)``.

    If ``u`` is column ``k`` of ``chi(Q)``, ``K u`` is column ``d + k``.
    """
    m = u.shape[-2] // 2
    top, bot = u[..., :m, :], u[..., m:, :]
    return np.concatenate([-bot.conj(), top.conj()], axis=-2)


def _quaternion_columns(u: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """``chi(Q)`` from its first ``d`` complex columns ``u`` (shape (..., 2d, d))."""
    m = u.shape[-2] // 2
    return np.concatenate([u, _antiunitary(u)], axis=-1) if m else u


def svd_field(X: ArrayLike, field: str) -> tuple[NDArray, NDArray[np.float64], NDArray]:
    """Singular value decomposition over ``F``: ``X = U diag(s) V^*`` with ``U, V`` in ``G_d``.

    For ``"quaternion"`` a complex SVD of ``chi(X)`` has ``U, V`` unitary but
    not necessarily in ``chi(Sp(d))`` (each singular value is doubled, so its
    2-dimensional singular space has an arbitrary basis). We pick, for each
    quaternionic singular value in turn, the left singular vector of its
    cluster least explained by the columns already chosen (and their images
    under the quaternionic structure ``K``), complete it by ``K``, and set
    ``v = chi(X)^* u / s``. This stays correct when quaternionic singular
    values repeat (values within ``1e-9 * s_max`` of each other are treated
    as one cluster; the reconstruction error is then of that order).

    Returns
    -------
    U : ndarray, shape (..., n, n)
    s : ndarray, float64, shape (..., d)
        Descending.
    V : ndarray, shape (..., n, n)
    """
    F = resolve_field(field)
    X = check_field_matrix(X, field)
    if F.b != 4:
        U, s, Vh = np.linalg.svd(X)
        return U, s, conj_transpose(Vh)
    Uc, sig, _ = np.linalg.svd(X)
    d = X.shape[-1] // 2
    s = sig[..., ::2]
    batch = X.shape[:-2]
    tol = 1e-9 * sig[..., :1]
    chosen = np.zeros((*batch, 2 * d, 0), dtype=np.complex128)
    for k in range(d):  # loop over the width; vectorized over the batch
        R = Uc - chosen @ (conj_transpose(chosen) @ Uc)
        score = np.linalg.norm(R, axis=-2)
        in_cluster = np.abs(sig - s[..., k : k + 1]) <= tol
        j = np.argmax(np.where(in_cluster, score, -1.0), axis=-1)
        u = np.take_along_axis(R, j[..., None, None], axis=-1)
        u = u / np.linalg.norm(u, axis=-2, keepdims=True)
        chosen = np.concatenate([chosen, u, _antiunitary(u)], axis=-1)
    ucols = chosen[..., 0::2]  # columns u_k (the K u_k sit at odd positions)
    U = _quaternion_columns(ucols)
    vcols = (conj_transpose(X) @ ucols) / s[..., None, :]
    V = _quaternion_columns(vcols)
    return U, s, V


def singular_values_field(X: ArrayLike, field: str) -> NDArray[np.float64]:
    """Singular values over ``F``, descending, shape ``(..., d)`` (each once for ``H``).

    Raises ``ValueError`` if some ``X`` is singular to working precision.
    """
    F = resolve_field(field)
    X = check_field_matrix(X, field)
    sig = np.linalg.svd(X, compute_uv=False)
    s = sig[..., ::2] if F.b == 4 else sig
    tiny = s[..., -1] <= X.shape[-1] * np.finfo(np.float64).eps * s[..., 0]
    if np.any(tiny):
        raise ValueError(
            "X is singular (or numerically singular); the entropy is defined for invertible X only"
        )
    return s


# --------------------------------------------------------------------------------------
# The field object: resolved once at a public entry point and handed down.
# --------------------------------------------------------------------------------------


def _batch(size: int | tuple[int, ...]) -> tuple[int, ...]:
    size = (size,) if isinstance(size, int | np.integer) else tuple(int(k) for k in size)
    if any(k < 0 for k in size):
        raise ValueError(f"size must be non-negative, got {size}")
    return size


def _phase_fix(Q: NDArray, R: NDArray) -> NDArray:
    """Multiply the columns of ``Q`` by the phases of ``diag R`` (unique, equivariant QR)."""
    r = np.diagonal(R, axis1=-2, axis2=-1)
    absr = np.abs(r)
    phase = np.where(absr > 0, r / np.where(absr > 0, absr, 1.0), 1.0)
    return Q * phase[..., None, :]


#: Up to this width real Haar samples come from batched Gram-Schmidt (numpy vector ops
#: over the batch); above it from LAPACK QR, whose per-matrix cost wins once d^3
#: dominates. Crossover (between 16 and 24 here) measured by benchmarks/bench_haar.py.
GRAM_SCHMIDT_MAX_WIDTH = 20


def haar_gram_schmidt(d: int, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` Haar samples of ``O(d)``, shape (n, d, d), by Gram-Schmidt of Gaussian columns.

    Gram-Schmidt is QR with ``diag(R) > 0``, so this is the sign-fixed QR of a
    Gaussian matrix, i.e. exact Haar. Classical Gram-Schmidt applied twice
    (CGS2) keeps the columns orthonormal to rounding. The batch is the last,
    contiguous axis so every step is one vector operation over all samples.
    """
    Z = rng.standard_normal((d, d, n))  # Z[j, :, k] = column j of sample k
    Q = np.empty_like(Z)
    for j in range(d):  # loop over columns, vectorized over the batch
        v = Z[j]
        for _ in range(2 if j else 0):
            coef = np.einsum("kin,in->kn", Q[:j], v)
            v = v - np.einsum("kn,kin->in", coef, Q[:j])
        Q[j] = v / np.sqrt(np.einsum("in,in->n", v, v))
    return np.ascontiguousarray(Q.transpose(2, 1, 0))


def haar_qr_real(d: int, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` Haar samples of ``O(d)`` by batched LAPACK QR with the sign of diag(R) fixed."""
    Q, R = np.linalg.qr(rng.standard_normal((n, d, d)))
    return _phase_fix(Q, R)


@dataclass(frozen=True, eq=False)
class Field:
    """One of the fields ``R, C, H`` and everything the engine needs to know about it.

    Resolve it once with :func:`resolve_field` at a public entry point and hand
    the object down; code below never branches on a field name. The three
    instances are :data:`REAL`, :data:`COMPLEX`, :data:`QUATERNION`.

    Attributes
    ----------
    name : str
        ``"real"``, ``"complex"`` or ``"quaternion"``.
    b : int
        Dyson index: the number of real components of one entry (1, 2, 4).
    dtype : numpy.dtype
        Storage dtype (float64 for R; complex128 for C and for H, which is
        stored in the complex ``2d x 2d`` representation ``chi``).
    """

    name: str
    b: int
    dtype: np.dtype

    def __repr__(self) -> str:
        return f"Field({self.name!r}, b={self.b})"

    def __reduce__(self):  # pickles (worker processes, Dask) as the singleton it is
        return (resolve_field, (self.name,))

    @property
    def is_real(self) -> bool:
        """True for ``R``: storage is real and ``^*`` is the plain transpose."""
        return self.b == 1

    @property
    def components(self) -> tuple[str, ...]:
        """Labels of the real components of an entry (``COMPONENT_LABELS``)."""
        return COMPONENT_LABELS[self.name]

    # ---- sizes -------------------------------------------------------------------------
    def rep_size(self, d: int) -> int:
        """Size of the stored square array for a ``d x d`` matrix (``2d`` for ``H``)."""
        return 2 * d if self.b == 4 else d

    def width_of(self, X: NDArray) -> int:
        """Width ``d`` of stored matrices of shape ``(..., n, n)``."""
        return X.shape[-1] // 2 if self.b == 4 else X.shape[-1]

    def real_dimension(self, d: int) -> int:
        """``dim_R M_d(F) = b d^2``."""
        return self.b * d * d

    def group_dimension(self, d: int) -> int:
        """``dim G_d = b d(d-1)/2 + (b-1) d`` for ``G_d = O_d, U_d, Sp_d``."""
        return self.b * d * (d - 1) // 2 + (self.b - 1) * d

    def hermitian_dimension(self, d: int) -> int:
        """``dim_R`` of Hermitian ``d x d`` matrices: ``d + b d(d-1)/2``."""
        return d + self.b * d * (d - 1) // 2

    # ---- algebra -----------------------------------------------------------------------
    def ct(self, M: NDArray) -> NDArray:
        """``M^*`` over the last two axes (a view-free transpose for ``R``)."""
        return np.swapaxes(M, -1, -2) if self.b == 1 else np.swapaxes(M.conj(), -1, -2)

    def inner(self, V: NDArray, W: NDArray, n_axes: int = 2) -> NDArray[np.float64]:
        """Real inner product ``Re tr(V^* W)`` summed over the last ``n_axes`` axes.

        For ``H`` the complex representation counts every real component
        twice; the factor 1/2 removes that.
        """
        prod = V * W if self.b == 1 else (V.conj() * W).real
        out = prod.sum(axis=tuple(range(-n_axes, 0)))
        return 0.5 * out if self.b == 4 else out

    def sq_norm(self, V: NDArray, n_axes: int = 2) -> NDArray[np.float64]:
        """``<V, V>`` over the last ``n_axes`` axes."""
        return self.inner(V, V, n_axes)

    def asarray(self, M: ArrayLike) -> NDArray:
        """``M`` in the storage dtype (no structure check)."""
        return np.asarray(M, dtype=self.dtype)

    def check_matrix(self, X: ArrayLike, name: str = "X", n_axes: int = 2) -> NDArray:
        """Validate stored matrices (see :func:`check_field_matrix`) and return them."""
        return check_field_matrix(X, self, name, n_axes)

    def diag_embed(self, s: ArrayLike) -> NDArray:
        """``diag(s)`` in storage (``diag(s, s)`` for ``H``)."""
        return diag_embed(s, self)

    def expand_diagonal(self, s: NDArray) -> NDArray:
        """The stored diagonal of ``diag(s)``: ``s`` (R, C) or ``(s, s)`` (H), shape (..., n)."""
        return np.concatenate([s, s], axis=-1) if self.b == 4 else s

    def expand_entrywise(self, D: NDArray) -> NDArray:
        """A ``d x d`` array of entrywise factors laid out on the stored ``n x n`` grid.

        In the singular-value frame an operator that multiplies entry ``(i, j)``
        of ``U^* P V`` by ``D_ij`` acts on the stored matrix entrywise by this
        array: ``D`` itself (R, C), or ``D`` repeated in all four ``d x d``
        blocks (H, whose entry ``(i, j)`` lives in the four blocks of ``chi``).
        """
        if self.b != 4:
            return D
        idx = np.concatenate([np.arange(D.shape[-1])] * 2)
        return D[..., idx[:, None], idx[None, :]]

    def to_components(self, M: ArrayLike) -> NDArray[np.float64]:
        """Real components, shape ``(..., m, n, b)``, order ``(re, i, j, k)``."""
        return to_components(M, self)

    def from_components(self, x: ArrayLike) -> NDArray:
        """Inverse of :meth:`to_components`."""
        return from_components(x, self)

    def realify(self, M: ArrayLike, n_axes: int = 2) -> NDArray[np.float64]:
        """Flatten the last ``n_axes`` axes into real coordinates (an isometry)."""
        return realify(M, self, n_axes)

    # ---- decompositions ----------------------------------------------------------------
    def svd(self, X: ArrayLike) -> tuple[NDArray, NDArray[np.float64], NDArray]:
        """``X = U diag(s) V^*`` with ``U, V`` in ``G_d``; ``s`` descending, shape (..., d)."""
        return svd_field(X, self)

    def singular_values(self, X: ArrayLike) -> NDArray[np.float64]:
        """Singular values over ``F``, descending, each once (raises if ``X`` is singular)."""
        return singular_values_field(X, self)

    def singular_values_unchecked(self, X: NDArray) -> NDArray[np.float64]:
        """Singular values without validation or singularity check (hot paths)."""
        return self.fold_singular_values(np.linalg.svd(X, compute_uv=False))

    def fold_singular_values(self, sig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Singular values over ``F`` from the descending ones of the stored matrix.

        Over ``H`` every singular value of ``chi(X)`` is doubled: keep each once.
        """
        return sig[..., ::2] if self.b == 4 else sig

    # ---- random draws ------------------------------------------------------------------
    def gaussian(
        self,
        d: int,
        size: int | tuple[int, ...] = (),
        rng: np.random.Generator | int | None = None,
    ) -> NDArray:
        """Standard Gaussian ``d x d`` matrices (every real component ``N(0, 1)``)."""
        return gaussian_matrix(d, self, size, rng)

    def haar(
        self,
        d: int,
        size: int | tuple[int, ...] = (),
        rng: np.random.Generator | int | None = None,
    ) -> NDArray:
        """Exact Haar samples of ``G_d = O_d, U_d, Sp_d`` in storage, shape ``(*size, n, n)``.

        The QR factorization of a Gaussian matrix with the phases of ``diag R``
        removed is unique and equivariant under left multiplication, and the
        Gaussian law is left-invariant, so ``Q`` is Haar (Mezzadri 2007). For
        ``H`` the complex QR runs on the columns of ``chi(G)`` interleaved as
        ``(c_1, K c_1, c_2, K c_2, ...)``: complex Gram-Schmidt in that order
        commutes with the quaternionic structure ``K``, so it is quaternionic
        Gram-Schmidt, and the result is rebuilt from its even columns so that it
        lies exactly in ``chi(Sp_d)``.
        """
        d = check_width(d, "d")
        rng = as_generator(rng)
        size = _batch(size)
        if isinstance(rng, ChainStreams):
            # One Haar draw per chain from its own stream: the batched algorithms below
            # interleave the samples (Gram-Schmidt runs along the last axis).
            return rng.stack(lambda g, s: self.haar(d, s, g), size)
        if self.b == 1:
            n = int(np.prod(size, dtype=np.int64))
            draw = haar_gram_schmidt if d <= GRAM_SCHMIDT_MAX_WIDTH else haar_qr_real
            return draw(d, n, rng).reshape(*size, d, d)
        G = self.gaussian(d, size, rng)
        if self.b == 2:
            return _phase_fix(*np.linalg.qr(G))
        perm = np.stack([np.arange(d), np.arange(d, 2 * d)], axis=-1).reshape(-1)
        Q = _phase_fix(*np.linalg.qr(G[..., :, perm]))
        return _quaternion_columns(Q[..., :, 0::2])

    # ---- the group ---------------------------------------------------------------------
    def lie_algebra_basis(self, d: int) -> NDArray:
        """Orthonormal basis of ``o(d), u(d), sp(d)`` for the real inner product."""
        return lie_algebra_basis(d, self)

    def log_group_volume(self, d: int) -> float:
        """``log vol(G_d)`` for the metric ``Re tr(B^* B)`` induced by the real inner product.

        From the fibrations ``G_k / G_{k-1} = S^{bk-1}``: each step contributes
        the unit sphere's volume ``2 pi^{bk/2} / Gamma(bk/2)`` and a factor
        ``sqrt 2`` for each of the ``b(k-1)`` off-diagonal real directions that
        the horizontal lift counts in a row and a column. Summed in closed form:

            d log 2 + b d(d+1)/4 log pi + b d(d-1)/4 log 2 - sum_{k=1}^d log Gamma(bk/2).

        ``b = 1`` is ``log c_d`` of the real theory (``c_1 = 2``: two points),
        evaluated in the same order of operations as it always was.
        """
        d = check_width(d, "d")
        if d > _MAX_GROUP_WIDTH:
            # The sum materializes d terms; no DLN held in memory has d > 1e6.
            raise ValueError(f"d must be <= {_MAX_GROUP_WIDTH} for log_group_volume, got {d}")
        b = self.b
        k = np.arange(1, d + 1)
        return float(
            d * np.log(2.0)
            + b * d * (d + 1) / 4.0 * np.log(np.pi)
            + b * d * (d - 1) / 4.0 * np.log(2.0)
            - gammaln(b * k / 2.0).sum()
        )


#: Largest width accepted by :meth:`Field.log_group_volume`.
_MAX_GROUP_WIDTH = 10**6

REAL = Field("real", 1, np.dtype(np.float64))
COMPLEX = Field("complex", 2, np.dtype(np.complex128))
QUATERNION = Field("quaternion", 4, np.dtype(np.complex128))
_BY_NAME = {f.name: f for f in (REAL, COMPLEX, QUATERNION)}


def resolve_field(field: str | Field) -> Field:
    """The :class:`Field` for ``"real"``, ``"complex"``, ``"quaternion"`` (or a Field itself).

    Raises
    ------
    TypeError, ValueError
        Naming the accepted values.
    """
    if isinstance(field, Field):
        return field
    return _BY_NAME[check_field(field)]
