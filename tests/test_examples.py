"""The notebooks under examples/ run end to end (nbclient, a kernel of this Python) and are
committed without outputs."""

import json
import re
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
NEEDS = "needs nbclient, nbformat and ipykernel (pip install -e '.[test]')"

#: Seconds a notebook may take (it runs in under a minute on an idle 2-core CPU).
TIMEOUT_S = 600


def _execute(path: Path, tmp_path: Path, monkeypatch):
    """The notebook at ``path`` executed in ``tmp_path`` with a kernel of this interpreter."""
    nbformat = pytest.importorskip("nbformat", reason=NEEDS)
    nbclient = pytest.importorskip("nbclient", reason=NEEDS)
    pytest.importorskip("ipykernel", reason=NEEDS)
    # a kernel spec of sys.executable: not whichever "python3" kernel the machine has
    spec = tmp_path / "jupyter" / "kernels" / "factordiff-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "factordiff test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="factordiff-test",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    return nb, time.perf_counter() - t0


def _text(nb) -> str:
    """Everything the code cells printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_there_are_examples():
    assert NOTEBOOKS, f"no notebooks in {EXAMPLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name}, cell {k} holds outputs; clear them before committing "
                "(jupyter nbconvert --clear-output --inplace)"
            )


def test_analyse_your_own_unet(tmp_path, monkeypatch):
    nb, seconds = _execute(EXAMPLES / "analyse_your_own_unet.ipynb", tmp_path, monkeypatch)
    text = _text(nb)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    assert "trained 150 steps" in text
    m = re.search(r"effective dimension at unet\.mid_block: ([\d.]+) \(untrained: ([\d.]+)\)", text)
    assert m, text[-2000:]
    for value in m.groups():  # 576 vectors of a 2-level UNet: a handful of directions
        assert 1.0 <= float(value) <= 50.0
    for name in ("model", "ring_torus", "clifford_torus"):
        assert re.search(rf"{name}\s+effective dimension [\d.]+, x-on-y [\d.]+, Betti", text)
    assert "clifford_torus  effective dimension 4.00, x-on-y 0.000, Betti (1, 2)" in text
    assert "same as through the wrapper: True" in text
    pngs = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(pngs) >= 5  # loss curve, spectra, factorization, persistence, PCA view
    print(f"analyse_your_own_unet.ipynb ran in {seconds:.1f} s")
