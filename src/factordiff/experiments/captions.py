"""Leaf: one sentence per figure that says what to look at, for the HTML page and report.md.

The one place that holds the figures' captions: :data:`CAPTIONS` maps each experiment to
``{file-name pattern: caption}`` (``fnmatch`` patterns for the names with a parameter, e.g.
``map_*.png``; the first pattern that matches wins, so the narrower ones come first). A
caption may name ``{seed}``: the seed of a figure that shows one run
(``figures_seed`` of the summary, else its first seed). :func:`caption` falls back to a
sentence that names the file for a figure without one; ``tests/test_captions.py`` fails
when an experiment writes a figure that has none.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

#: ``{experiment: {file-name pattern: caption}}``; the experiment is the name's stem
#: (``exp1-quick`` -> ``exp1``).
CAPTIONS: dict[str, dict[str, str]] = {
    "exp1": {
        "accuracy_effdim.png": (
            "Joint accuracy (blue, left axis) and effective dimension of the representation "
            "(red, right axis) over training, thin lines for each seed and bold ones for "
            "their mean; the dashed line is the paper's effective dimension of about 7."
        ),
        "pca_spectra.png": (
            "Explained-variance ratio of the first principal components at four checkpoints "
            "of {seed}: as accuracy rises the paper sees the variance gather in a few PCs "
            "(the top-4 share is in each title)."
        ),
        "pca_3d.png": (
            "The representation of {seed} on its first three principal components at three "
            "checkpoints, coloured by mu_x (top row) and mu_y (bottom row): a factorized code "
            "draws a torus whose two loops follow mu_x and mu_y."
        ),
        "umap_*.png": (
            "UMAP of the terminal representation of {seed} beside the ideal ring and Clifford "
            "tori, coloured by mu_x (top row) and mu_y (bottom row): look for colours that "
            "change smoothly, one direction per feature."
        ),
        "persistence.png": (
            "Persistence diagrams (H0, H1, H2) of the terminal representation of {seed} beside "
            "the ideal tori: a torus has Betti numbers (1, 2, 1), two H1 points far above the "
            "diagonal."
        ),
        "factorization.png": (
            "Factorization tests of the terminal representation of {seed} beside the ideal "
            "tori: x-on-y similarity near 0 means orthogonal x and y codes, x-on-x and y-on-y "
            "near 1 parallel ones, and value cosines near 0 a superfactored code."
        ),
        "map_*.png": (
            "Where one claim holds over the sensitivity map of the final checkpoint of {seed} "
            "(layer by timestep, pooling and noise draws): blue cells hold, the trained network "
            "passing where the untrained control fails."
        ),
    },
    "exp2": {
        "section_accuracy.png": (
            "Accuracy on x and on y in each section of the plus-shaped hole for each model, bars "
            "the mean over seeds and dots each seed: composition shows as high accuracy in the "
            "vertical, horizontal and intersection sections."
        ),
        "grid_rim_*.png": (
            "Images that the model of {seed} generated for interior 2D conditions, trained with "
            "(1d) or without (1d-norim) the rim of 2D examples: the red + marks the target, a "
            "green frame a sample centred on it, a red frame one that is not."
        ),
        "grid_*.png": (
            "Images that the model of {seed} generated, one row per section of the plus-shaped "
            "hole: the red + marks the target, a green frame a sample centred on it within the "
            "tolerance, a red frame one that is not."
        ),
        "lesion_width.png": (
            "Joint accuracy inside a lesion of removed lattice columns against its width, the "
            "line the mean over seeds and dots each seed: interpolation fails as the lesion "
            "widens."
        ),
        "squares.png": (
            "Joint accuracy in a held-out W x W square against W, interior and exterior squares "
            "of bumps and SOS, the lines the mean over seeds and dots each seed: the paper "
            "generates interior squares better."
        ),
        "sampling_rate.png": (
            "In-distribution joint accuracy against the sampling rate of the 2D part of the "
            "bumps + stripes data, the line the mean over seeds and dots each seed."
        ),
    },
    "exp3": {
        "accuracy_vs_share.png": (
            "Accuracy of 2D bumps against the share of the lattice kept for training at the "
            "largest N, for bumps alone and with 1D stripes: markers the mean over seeds with "
            "its standard deviation, thin lines each seed."
        ),
        "size_at_threshold.png": (
            "Training images needed to reach the accuracy threshold against image size N, "
            "log-log, thin lines for each seed and markers for their geometric mean: compare "
            "the fitted slopes with the dashed paper slopes N (with stripes) and N^2 (bumps "
            "alone)."
        ),
    },
    "percolation": {
        "accuracy_vs_lambda.png": (
            "Terminal accuracy against the kept share lambda of the lattice for each bump "
            "width, markers the mean over seeds with its standard deviation and thin lines "
            "each seed: look for a sharp onset, earlier for wider bumps."
        ),
        "mass_ratio.png": (
            "Simulated share of the kept lattice points in the largest cluster against lambda, "
            "one panel per overlap threshold and one line per width; the dotted lines mark "
            "the critical shares, where it reaches one half."
        ),
        "percolation_vs_accuracy_t*.png": (
            "Simulated percolation curves at the overlap threshold in the file name (lines) "
            "beside the trained models' accuracy (markers, thin lines each seed) against "
            "lambda: the paper's onset of learning sits near the critical share (dotted)."
        ),
        "loss_vs_lambda.png": (
            "Final training loss (left) and validation loss on held-out sites (right) against "
            "lambda for each width, the mean over seeds with markers and thin lines each seed: "
            "the validation loss falls where the models start to generalise."
        ),
        "umap.png": (
            "2D UMAP of the final representation of the models of {seed}, one panel per width "
            "and kept share, coloured by mu_x: the lattice's grid appears once lambda passes "
            "the onset."
        ),
    },
}


def experiment_key(experiment: str) -> str | None:
    """The key of :data:`CAPTIONS` an experiment's name belongs to (``exp1-quick`` ->
    ``exp1``, ``percolation`` -> ``percolation``), None for another name."""
    name = experiment.strip().lower()
    for key in sorted(CAPTIONS, key=len, reverse=True):
        if name == key or name.startswith((f"{key}-", f"{key}_")):
            return key
    return None


def _template(experiment: str, filename: str) -> str | None:
    key = experiment_key(experiment)
    for pattern, text in CAPTIONS.get(key, {}).items():
        if fnmatchcase(filename, pattern):
            return text
    return None


def has_caption(experiment: str, filename: str) -> bool:
    """Whether ``filename`` of ``experiment`` has a caption of its own (not the fallback)."""
    return _template(experiment, filename) is not None


def caption(experiment: str, filename: str, seed: int | None = None) -> str:
    """One sentence that says what figure ``filename`` of ``experiment`` shows and what to
    look at; ``seed``: the run a one-run figure shows (None: "the first seed"). A figure
    without a caption of its own gets a sentence that names it."""
    text = _template(experiment, filename)
    if text is None:
        stem = filename.rsplit(".", 1)[0].replace("_", " ")
        return (
            f"The figure {stem} of {experiment} (file {filename}); no caption is written "
            "for it yet."
        )
    return text.format(seed="the first seed" if seed is None else f"seed {seed}")


def summary_caption(summary: dict, filename: str) -> str:
    """:func:`caption` of a figure listed in an experiment's ``summary.json`` content: its
    experiment, and the seed of its one-run figures (``figures_seed``, else the first seed)."""
    seed = summary.get("figures_seed")
    if seed is None and summary.get("seeds"):
        seed = min(summary["seeds"])
    return caption(str(summary.get("experiment") or ""), filename, seed)
