"""One pipeline for every representation: the model's and the ideal references alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from factordiff.analysis.blas import one_blas_thread
from factordiff.analysis.factorization import FactorizationTest
from factordiff.analysis.geometry import PCASpectrum, UMAPEmbedding
from factordiff.analysis.grid import Representation
from factordiff.analysis.references import reference_representations
from factordiff.analysis.topology import PersistentHomology
from factordiff.config import json_ready


class RepresentationAnalysis:
    """PCA, factorization tests, persistent homology and UMAP of one representation.

    Parameters
    ----------
    n_components : PCs kept in the eigenspectrum (15 in the paper).
    n_dims : loop-subspace dimension of the factorization tests.
    periodic : whether the grid's loops close (periodic data).
    topology : run persistent homology (ripser, seconds per cloud).
    n_landmarks, maxdim, h1_points : persistent homology settings
        (:class:`PersistentHomology`).
    umap_dims : UMAP embeddings to compute, e.g. ``(2, 3)``; ``()`` skips UMAP.
    n_neighbors : UMAP neighbourhood size.
    random_state : seed of UMAP.

    Attributes (after :meth:`fit`)
    ----------
    pca_ : fitted :class:`PCASpectrum`.
    factorization_ : fitted :class:`FactorizationTest`, or ``None`` without a grid.
    topology_ : fitted :class:`PersistentHomology`, or ``None`` when ``topology=False``.
    umap_ : ``{n_components: (n, n_components) embedding}``.
    summary_ : JSON-ready numbers (see :meth:`summary`).
    """

    def __init__(
        self,
        n_components: int = 15,
        n_dims: int = 2,
        periodic: bool = True,
        topology: bool = True,
        n_landmarks: int = 256,
        maxdim: int = 2,
        h1_points: str = "all",
        umap_dims: tuple[int, ...] = (2, 3),
        n_neighbors: int = 15,
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.n_dims = n_dims
        self.periodic = periodic
        self.topology = topology
        self.n_landmarks = n_landmarks
        self.maxdim = maxdim
        self.h1_points = h1_points
        self.umap_dims = umap_dims
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    @one_blas_thread
    def fit(self, rep: Representation) -> RepresentationAnalysis:
        self.representation_ = rep
        self.pca_ = PCASpectrum(n_components=self.n_components).fit(rep.X)
        self.factorization_ = None
        if rep.grid_shape is not None:
            self.factorization_ = FactorizationTest(n_dims=self.n_dims, periodic=self.periodic).fit(
                rep
            )
        self.topology_ = None
        if self.topology:
            self.topology_ = PersistentHomology(
                maxdim=self.maxdim, n_landmarks=self.n_landmarks, h1_points=self.h1_points
            ).fit(rep.X)
        self.umap_ = {
            k: UMAPEmbedding(
                n_components=k, n_neighbors=self.n_neighbors, random_state=self.random_state
            )
            .fit(rep.X)
            .embedding_
            for k in self.umap_dims
        }
        self.summary_ = self.summary()
        return self

    def summary(self) -> dict:
        """JSON-ready: effective dimension, 90% count, top-4 share, eigenspectrum, Betti
        numbers, orthogonality / parallelism medians and the rules' verdicts."""
        out: dict[str, Any] = {
            "metadata": self.representation_.metadata,
            "dim": self.representation_.dim,
        }
        out.update(self.pca_.summary())
        if self.factorization_ is not None:
            out["factorization"] = self.factorization_.summary()
        if self.topology_ is not None:
            out["topology"] = self.topology_.summary()
            out["betti"] = list(self.topology_.betti_)
        return json_ready(out)

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every result array, named for ``np.savez`` (keys start with ``prefix``)."""
        r = self.representation_
        out = {
            "X": r.X,
            "labels": r.labels,
            "grid_shape": np.array(r.grid_shape or (-1, -1)),
            "explained_variance_ratio": self.pca_.explained_variance_ratio_,
        }
        f = self.factorization_
        if f is not None:
            for name in (
                "similarity_xy_",
                "similarity_xx_",
                "similarity_yy_",
                "cosines_xy_",
                "cosines_xx_",
                "cosines_yy_",
                "value_cosines_x_",
                "value_cosines_y_",
            ):
                out[name.rstrip("_")] = getattr(f, name)
        if self.topology_ is not None:
            for k, d in enumerate(self.topology_.diagrams_):
                out[f"dgm_h{k}"] = d
            out["landmarks"] = self.topology_.landmarks_
        for k, emb in self.umap_.items():
            out[f"umap_{k}d"] = emb
        return {prefix + k: np.asarray(v) for k, v in out.items()}


def summarize_representation(rep: Representation, **params: Any) -> dict:
    """JSON-ready summary numbers of one representation (no UMAP):
    ``RepresentationAnalysis(umap_dims=(), **params).fit(rep).summary_``."""
    params.setdefault("umap_dims", ())
    return RepresentationAnalysis(**params).fit(rep).summary_


def analyze_with_references(
    rep: Representation,
    *,
    reference_noise_std: float = 0.0,
    period: float | None = None,
    **params: Any,
) -> dict[str, RepresentationAnalysis]:
    """Fit the same :class:`RepresentationAnalysis` to ``rep`` and to the ring and Clifford
    tori sampled on its conditions. Returns ``{"model", "ring_torus", "clifford_torus"}``
    in that order (the column order of the figures)."""
    refs = reference_representations(
        rep,
        period=period,
        noise_std=reference_noise_std,
        random_state=params.get("random_state", 0),
    )
    out = {"model": RepresentationAnalysis(**params).fit(rep)}
    for name, ref in refs.items():
        # The ideal tori always close, whatever the model's data.
        out[name] = RepresentationAnalysis(**{**params, "periodic": True}).fit(ref)
    return out
