"""Orthogonality, parallelism and "superfactoring" tests on the loops of a condition grid.

Definitions (see ``docs/analysis.md`` for the reasoning and the reference values).

Loops. On an ``n_x x n_y`` grid, the x-loop at fixed ``y_j`` is the set of representations of
all x at that y, ``G[:, j]`` (n_x, d); the y-loop at fixed ``x_i`` is ``G[i, :]`` (n_y, d).

Loop subspace. The span of the top ``n_dims`` principal directions of the centred loop
(``n_dims = 2``: a circle spans a plane).

Subspace similarity of two loops ``a``, ``b`` with orthonormal bases ``U_a``, ``U_b``
(d, k): the mean squared cosine of their principal angles,
``s(a, b) = ||U_a^T U_b||_F^2 / k`` in [0, 1]; 0 = orthogonal subspaces, 1 = the same
subspace. Random k-dim subspaces of R^d give about ``k / d``.

- x-on-y (orthogonality): ``s`` for every pair (x-loop, y-loop);
- x-on-x (parallelism of x): ``s`` for every pair of x-loops at different y;
- y-on-y (parallelism of y): ``s`` for every pair of y-loops at different x.

Value cosines (superfactoring). Within each x-loop, centre the representations over x; the
cosine between the centred vectors of two different x values, pooled over all x-loops (and
likewise for y). A smooth loop (a circle) gives cosines spread over [-1, 1] (median
``|cos|`` about 0.7); independent vectors per value give cosines near 0.

Rules (defaults): orthogonal when median x-on-y ``s <= 0.2``; parallel in x (y) when median
x-on-x (y-on-y) ``s >= 0.8``; superfactored when the median ``|value cosine|`` of both x
and y is ``<= 0.2``. Reference values: Clifford torus x-on-y 0, x-on-x 1, y-on-y 1; ring
torus x-on-y 0.5 (the two loops share the radial direction), x-on-x 1, y-on-y about 0.75;
random-feature torus about ``k / d`` for all three.
"""

from __future__ import annotations

import numpy as np

from factordiff.analysis.blas import one_blas_thread
from factordiff.analysis.grid import MIN_GRID_SIDE, Representation, check_grid_shape


def _loop_bases(loops: np.ndarray, n_dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Top principal directions of each centred loop.

    ``loops`` (n_loops, n_points, d) -> bases (n_loops, d, n_dims) and a mask (n_loops,)
    of loops whose ``n_dims``-th direction carries variance (others have no defined
    subspace and give NaN similarities)."""
    centred = loops - loops.mean(axis=1, keepdims=True)
    # The top directions from the eigendecomposition of each loop's Gram matrix
    # (n_points, n_points): centred = U S V^T gives G = U S^2 U^T and V = centred^T U / S.
    # One batched matrix product instead of an SVD of every (n_points, d) loop.
    gram = centred @ np.swapaxes(centred, 1, 2)  # (n_loops, n_points, n_points)
    w, u = np.linalg.eigh(gram)  # ascending
    w, u = w[:, ::-1][:, :n_dims], u[:, :, ::-1][:, :, :n_dims]
    scale = max(float(w.max()), np.finfo(np.float64).tiny)
    # The n_dims-th direction carries variance when its eigenvalue is above 1e-12 of the
    # largest (singular value above 1e-6 of the largest): the Gram matrix holds the squared
    # values, whose rounding is ~1e-16 of the largest, and the representations come from
    # float32 networks (relative precision ~1e-7).
    valid = w[:, n_dims - 1] > 1e-12 * scale
    with np.errstate(invalid="ignore", divide="ignore"):
        bases = (np.swapaxes(centred, 1, 2) @ u) / np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    bases[~valid] = 0.0  # no defined subspace: its similarities are set to NaN by the caller
    return bases, valid


def _principal_cosines(bases_a: np.ndarray, bases_b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between every pair of subspaces.

    ``bases_a`` (A, d, k), ``bases_b`` (B, d, k) orthonormal -> (A, B, k), descending."""
    (A, d, k), B, k_b = bases_a.shape, bases_b.shape[0], bases_b.shape[2]
    # One matrix product (BLAS) for every pair: (A k, d) @ (d, B k) -> (A, k, B, l).
    a = np.swapaxes(bases_a, 1, 2).reshape(A * k, d)
    b = np.swapaxes(bases_b, 1, 2).reshape(B * k_b, d)
    m = (a @ b.T).reshape(A, k, B, k_b).transpose(0, 2, 1, 3)  # (A, B, k, l)
    return np.clip(np.linalg.svd(m, compute_uv=False), 0.0, 1.0)


def _value_cosines(loops: np.ndarray, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cosines between centred representations of different values along each loop.

    ``loops`` (n_loops, n, d) -> all pairs (n_loops * n * (n - 1) / 2,) and neighbour pairs
    (n_loops * n,) if periodic else (n_loops * (n - 1),)."""
    v = loops - loops.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(v, axis=2, keepdims=True)
    # A loop without variance (a feature the representation ignores) leaves only rounding
    # residue after centring; its cosines are undefined, not +-1.
    scale = max(float(np.linalg.norm(loops, axis=2).max()), np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(norm > 1e-9 * scale, v / norm, np.nan)
    cos = v @ np.swapaxes(v, 1, 2)  # (n_loops, n, n)
    n = loops.shape[1]
    iu = np.triu_indices(n, k=1)
    nxt = np.arange(n) + 1
    if periodic:
        neighbours = cos[:, np.arange(n), nxt % n]
    else:
        neighbours = cos[:, np.arange(n - 1), nxt[:-1]]
    return cos[:, iu[0], iu[1]].ravel(), neighbours.ravel()


def _nanmedian(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.mean(values)) if values.size else float("nan")


class FactorizationTest:
    """Orthogonality (x-on-y), parallelism (x-on-x, y-on-y) and value-cosine tests.

    Parameters
    ----------
    n_dims : dimension of each loop's subspace (2: a circle spans a plane).
    orthogonal_below : x and y are orthogonal when median x-on-y similarity <= this.
    parallel_above : x-loops (y-loops) are parallel when median x-on-x (y-on-y) >= this.
    superfactored_below : superfactored when median ``|value cosine|`` of x and of y <= this.
    periodic : whether loops close (neighbour pairs then include last-to-first).

    Attributes (after :meth:`fit`)
    ----------
    cosines_xy_ : (n_y * n_x, n_dims) principal cosines, pair (x-loop j, y-loop i) at row
        ``j * n_x + i``; ``cosines_xx_`` (n_y (n_y - 1) / 2, n_dims) and ``cosines_yy_``
        (n_x (n_x - 1) / 2, n_dims) for pairs of distinct loops.
    similarity_xy_, similarity_xx_, similarity_yy_ : per-pair subspace similarity
        (mean squared cosine), the histogrammed distributions.
    value_cosines_x_, value_cosines_y_ : cosines between centred representations of two
        different values of one feature within a loop, all pairs pooled.
    neighbour_cosine_x_, neighbour_cosine_y_ : mean value cosine of adjacent grid values.
    orthogonality_, parallelism_x_, parallelism_y_ : medians of the similarities.
    value_cosine_x_, value_cosine_y_ : medians of ``|value cosines|``.
    chance_similarity_ : ``n_dims / d``, the similarity of random subspaces.
    is_orthogonal_, is_parallel_x_, is_parallel_y_, is_superfactored_ : the rules above.
    """

    def __init__(
        self,
        n_dims: int = 2,
        orthogonal_below: float = 0.2,
        parallel_above: float = 0.8,
        superfactored_below: float = 0.2,
        periodic: bool = True,
    ) -> None:
        self.n_dims = n_dims
        self.orthogonal_below = orthogonal_below
        self.parallel_above = parallel_above
        self.superfactored_below = superfactored_below
        self.periodic = periodic

    @one_blas_thread
    def fit(self, rep: Representation) -> FactorizationTest:
        """Run the tests on a gridded representation (``rep.grid_shape`` set)."""
        if not isinstance(self.n_dims, int) or self.n_dims < 1:
            raise ValueError(f"n_dims = {self.n_dims!r} is invalid; allowed: an integer >= 1")
        check_grid_shape(rep.grid_shape, min_side=max(MIN_GRID_SIDE, self.n_dims + 1))
        G = rep.as_grid().astype(np.float64)  # (n_x, n_y, d)
        x_loops = np.swapaxes(G, 0, 1)  # (n_y, n_x, d): x-loop j = all x at y_j
        y_loops = G  # (n_x, n_y, d): y-loop i = all y at x_i
        k = self.n_dims
        if k > G.shape[2]:
            raise ValueError(f"n_dims = {k} exceeds the representation dimension {G.shape[2]}")

        bx, vx = _loop_bases(x_loops, k)
        by, vy = _loop_bases(y_loops, k)
        cxy = _principal_cosines(bx, by)  # (n_y, n_x, k)
        cxy[~vx] = np.nan
        cxy[:, ~vy] = np.nan
        cxx = _principal_cosines(bx, bx)
        cxx[~vx] = np.nan
        cxx[:, ~vx] = np.nan
        cyy = _principal_cosines(by, by)
        cyy[~vy] = np.nan
        cyy[:, ~vy] = np.nan
        jx = np.triu_indices(len(bx), k=1)
        jy = np.triu_indices(len(by), k=1)
        self.cosines_xy_ = cxy.reshape(-1, k)
        self.cosines_xx_ = cxx[jx]
        self.cosines_yy_ = cyy[jy]
        self.similarity_xy_ = np.mean(self.cosines_xy_**2, axis=1)
        self.similarity_xx_ = np.mean(self.cosines_xx_**2, axis=1)
        self.similarity_yy_ = np.mean(self.cosines_yy_**2, axis=1)

        self.value_cosines_x_, nx = _value_cosines(x_loops, self.periodic)
        self.value_cosines_y_, ny = _value_cosines(y_loops, self.periodic)
        self.neighbour_cosine_x_ = _nanmean(nx)
        self.neighbour_cosine_y_ = _nanmean(ny)

        self.orthogonality_ = _nanmedian(self.similarity_xy_)
        self.parallelism_x_ = _nanmedian(self.similarity_xx_)
        self.parallelism_y_ = _nanmedian(self.similarity_yy_)
        self.value_cosine_x_ = _nanmedian(np.abs(self.value_cosines_x_))
        self.value_cosine_y_ = _nanmedian(np.abs(self.value_cosines_y_))
        self.chance_similarity_ = k / G.shape[2]
        # NaN (no defined subspace) compares False: such a representation passes no test.
        self.is_orthogonal_ = bool(self.orthogonality_ <= self.orthogonal_below)
        self.is_parallel_x_ = bool(self.parallelism_x_ >= self.parallel_above)
        self.is_parallel_y_ = bool(self.parallelism_y_ >= self.parallel_above)
        # Both features must pass; a NaN (a feature the representation ignores) fails, whatever
        # the order of the two values (Python's max() would drop a NaN in second place).
        self.is_superfactored_ = bool(
            self.value_cosine_x_ <= self.superfactored_below
            and self.value_cosine_y_ <= self.superfactored_below
        )
        return self

    def summary(self) -> dict:
        """JSON-ready numbers (NaN becomes ``None``)."""

        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        return {
            "orthogonality_xy": num(self.orthogonality_),
            "parallelism_xx": num(self.parallelism_x_),
            "parallelism_yy": num(self.parallelism_y_),
            "value_cosine_x": num(self.value_cosine_x_),
            "value_cosine_y": num(self.value_cosine_y_),
            "neighbour_cosine_x": num(self.neighbour_cosine_x_),
            "neighbour_cosine_y": num(self.neighbour_cosine_y_),
            "chance_similarity": num(self.chance_similarity_),
            "orthogonal": self.is_orthogonal_,
            "parallel_x": self.is_parallel_x_,
            "parallel_y": self.is_parallel_y_,
            "superfactored": self.is_superfactored_,
            "rule": {
                "n_dims": self.n_dims,
                "orthogonal_below": self.orthogonal_below,
                "parallel_above": self.parallel_above,
                "superfactored_below": self.superfactored_below,
            },
        }
