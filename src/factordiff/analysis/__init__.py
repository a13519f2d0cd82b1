"""Representation analysis: activations, PCA / effective dimension, UMAP, orthogonality and
parallelism tests, persistent homology, and the ideal tori they are compared with.

Works on factordiff runs (:func:`analyze_run`) and on any conditional PyTorch denoiser
(:class:`ActivationExtractor` with ``forward_fn``). See ``docs/analysis.md``.

Also here, imported from their own modules (not re-exported): the percolation model of data
efficiency (:mod:`.percolation_model`: overlap graph; :mod:`.percolation_clusters`: clusters
and mass ratio; :mod:`.percolation_sim`: the simulated study, ``python -m
factordiff.analysis.percolation_sim``) and the power-law fits of data efficiency
(:mod:`.power_law`). See ``docs/percolation.md``.
"""

from factordiff.analysis.activations import (
    ActivationExtractor,
    extract_representation,
    extract_representations,
    layer_names,
    resolve_layer,
)
from factordiff.analysis.calibration import calibrate, calibration_cloud
from factordiff.analysis.control import ControlledVerdict, judge
from factordiff.analysis.factorization import FactorizationTest
from factordiff.analysis.geometry import PCASpectrum, UMAPEmbedding, participation_ratio
from factordiff.analysis.grid import MIN_GRID_SIDE, Representation, condition_grid
from factordiff.analysis.pipeline import (
    RepresentationAnalysis,
    analyze_with_references,
    summarize_representation,
)
from factordiff.analysis.references import (
    circle,
    clifford_torus,
    random_feature_torus,
    reference_representation,
    reference_representations,
    ring_torus,
)
from factordiff.analysis.run import analyze_map, analyze_run
from factordiff.analysis.sensitivity import block_layers, count_holding, sensitivity_map
from factordiff.analysis.topology import PersistentHomology, betti_numbers

__all__ = [
    "MIN_GRID_SIDE",
    "ActivationExtractor",
    "ControlledVerdict",
    "FactorizationTest",
    "PCASpectrum",
    "PersistentHomology",
    "Representation",
    "RepresentationAnalysis",
    "UMAPEmbedding",
    "analyze_map",
    "analyze_run",
    "analyze_with_references",
    "betti_numbers",
    "block_layers",
    "calibrate",
    "calibration_cloud",
    "circle",
    "clifford_torus",
    "condition_grid",
    "count_holding",
    "extract_representation",
    "extract_representations",
    "judge",
    "layer_names",
    "participation_ratio",
    "random_feature_torus",
    "reference_representation",
    "reference_representations",
    "resolve_layer",
    "ring_torus",
    "sensitivity_map",
    "summarize_representation",
]
