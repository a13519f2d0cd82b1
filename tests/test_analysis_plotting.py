"""Figures of the analysis: results in, matplotlib Figure out, model beside the ideals."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from factordiff import plotting  # noqa: E402
from factordiff.analysis import (  # noqa: E402
    Representation,
    analyze_with_references,
    condition_grid,
    reference_representation,
)


@pytest.fixture(scope="module")
def analyses():
    labels, shape = condition_grid(32, 8, 8)
    like = Representation(np.zeros((64, 1)), labels, shape, {"image_size": 32})
    model = reference_representation("random_feature_torus", like, random_state=0)
    return analyze_with_references(model, umap_dims=(), n_landmarks=64)


def test_analysis_figures_show_model_beside_both_ideals(analyses, tmp_path):
    assert list(analyses) == ["model", "ring_torus", "clifford_torus"]
    figs = plotting.analysis_figures(analyses, period=32)
    assert set(figs) == {"spectrum", "factorization", "persistence"}
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    titles = [ax.get_title() for ax in figs["persistence"].axes]
    assert any("Clifford" in t and "Betti (1, " in t for t in titles)
    assert len(figs["factorization"].axes) == 6  # 2 rows x 3 columns
    fact_titles = " ".join(ax.get_title() for ax in figs["factorization"].axes)
    assert "not orthogonal" in fact_titles and "superfactored" in fact_titles


@pytest.mark.parametrize("k", [2, 3])
def test_umap_plot_colours_by_x_and_y(analyses, k):
    rng = np.random.default_rng(0)
    embeddings = {name: rng.normal(size=(64, k)) for name in analyses}
    labels = analyses["model"].representation_.labels
    fig = plotting.plot_umap(embeddings, labels, period=32)
    scatter_axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(scatter_axes) == 6  # x row and y row for each of the three entries
    assert "mu_y" in scatter_axes[-1].get_title()
    with pytest.raises(ValueError, match="all be"):
        plotting.plot_umap({"a": np.zeros((4, 2)), "b": np.zeros((4, 3))}, np.zeros((4, 2)))


def test_spectrum_and_persistence_accept_plain_arrays():
    fig = plotting.plot_spectrum({"a": np.array([0.5, 0.3, 0.2])})
    assert len(fig.axes) == 1
    dgms = [np.array([[0, 1.0], [0, np.inf]]), np.array([[0.2, 0.9]])]
    fig = plotting.plot_persistence({"cloud": dgms})
    assert fig.axes[0].get_title() == "cloud"


def test_training_curve_skips_missing_accuracy():
    fig = plotting.plot_training_curve([0, 50, 100], [None, 0.4, 0.9], [12.0, 9.0, 7.1])
    ax, ax2 = fig.axes
    assert len(ax.lines[0].get_xdata()) == 2 and len(ax2.lines[0].get_xdata()) == 3
    assert len(ax2.lines) == 1  # no reference unless asked, no seed lines for one run
    with pytest.raises(ValueError, match="one value per checkpoint"):
        plotting.plot_training_curve([0, 1], [0.5], [3.0, 2.0])


def test_training_curve_draws_every_seed_and_the_papers_dimension():
    acc = [[None, 0.4, 0.9], [0.0, 0.5, 1.0], [0.0, 0.3, 0.8]]  # (3 seeds, 3 checkpoints)
    eff = [[12.0, 9.0, 7.1], [11.0, 8.0, 6.0], [13.0, 10.0, 2.0]]
    fig = plotting.plot_training_curve(
        [0, 50, 100], acc, eff, reference_dimension=7.0, seeds=[0, 1, 2]
    )
    ax, ax2 = fig.axes
    for a in (ax, ax2):
        assert sum(line.get_gid() == plotting.SEED_GID for line in a.lines) == 3
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), np.mean(eff, axis=0))
    (ref,) = [line for line in ax2.lines if line.get_label() == "paper: about 7"]
    assert list(ref.get_ydata()) == [7.0, 7.0] and ref.get_linestyle() == "--"
    assert ax2.get_ylim()[0] <= 7.0 <= ax2.get_ylim()[1]
    (key,) = fig.legends
    assert "paper: about 7" in [t.get_text() for t in key.get_texts()]


def test_pca_views_name_their_axes_and_colours():
    rng = np.random.default_rng(0)
    views = {f"epoch {e}": (rng.normal(size=(20, 3)), rng.uniform(0, 8, (20, 2))) for e in (0, 9)}
    fig = plotting.plot_pca_views(views, title="seed 4")
    panels = [ax for ax in fig.axes if ax.name == "3d"]
    assert len(panels) == 4 and fig.get_suptitle() == "seed 4"
    for ax in panels:
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("PC1", "PC2", "PC3")
    bars = [ax.get_ylabel() for ax in fig.axes if ax.name != "3d"]
    assert sorted(bars) == ["$\\mu_x$ (px)"] * 2 + ["$\\mu_y$ (px)"] * 2


def test_factorization_labels_fit_inside_the_figure(analyses):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plotting.plot_factorization(analyses)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    for ax in fig.axes:
        box = ax.xaxis.label.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width, ax.get_xlabel()


@pytest.mark.parametrize("framed", [True, False])
def test_sample_grid_has_a_key(framed):
    rng = np.random.default_rng(0)
    correct = np.array([True, False, True]) if framed else None
    fig = plotting.sample_grid_figure(
        rng.uniform(-1, 1, (3, 8, 8)), rng.uniform(0, 8, (3, 2)), correct=correct, tolerance_px=1.5
    )
    (key,) = fig.legends
    texts = [t.get_text() for t in key.get_texts()]
    assert "target" in texts[0] and len(texts) == (3 if framed else 1)
    assert not framed or "within 1.5 px" in texts[1]
