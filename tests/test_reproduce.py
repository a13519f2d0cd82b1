"""`factordiff reproduce` and `factordiff report`: a tiny reproduce end to end (built once for
the module), a second call that trains nothing, a failed run listed on the page, the page of
a hand-made summary (every claim, escaping), and the page in headless Chromium."""

import json
import re
import shutil
import struct
import time
import zlib
from pathlib import Path

import markupsafe
import pytest

from factordiff import training
from factordiff.cli import main
from factordiff.experiments.captions import caption
from factordiff.experiments.html_report import (
    collect,
    markdown_html,
    report_md_sections,
    write_report,
)
from factordiff.experiments.judgement import verdict_of
from factordiff.experiments.reproduce import (
    ORDER,
    Progress,
    parse_only,
    plan_reproduce,
    preset_for,
    reproduce,
)
from factordiff.experiments.sweep import FAILURE_FILE, LocalExecutor

ONE = LocalExecutor(workers=1, threads=1)
TWO = LocalExecutor(workers=2, threads=1)  # the tiny reproduce: CI has 2 cores


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Every experiment at the tiny scale, once: ``(out, record, log lines, seconds)``."""
    out = tmp_path_factory.mktemp("reproduce") / "tiny"
    lines: list[str] = []
    t0 = time.perf_counter()
    record = reproduce(
        out, scale="tiny", executor=TWO, command="pytest", log=lines.append, heartbeat_seconds=0
    )
    return out, record, lines, time.perf_counter() - t0


def _links(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_tiny_reproduce_writes_every_section(tiny):
    out, record, lines, seconds = tiny
    print(f"tiny reproduce: {seconds:.0f} s")
    assert record["failed"] == []
    assert [e["name"] for e in record["experiments"]] == list(ORDER)
    assert {e["status"] for e in record["experiments"]} == {"done"}
    saved = json.loads((out / "reproduce.json").read_text())
    assert [(e["name"], e["preset"]) for e in saved["experiments"]] == [
        (n, preset_for(n, "tiny")) for n in ORDER
    ]
    assert all(e["wall_seconds"] > 0 and e["error"] is None for e in saved["experiments"])
    page = (out / "report.html").read_text()
    n_figures = 0
    for name in ORDER:
        summary = json.loads((out / name / "summary.json").read_text())
        assert f'<section id="exp-{name}"' in page
        for i, v in enumerate(summary["verdicts"], start=1):
            # a row in the claims table links to the verdict's row in the section
            assert f'href="#exp-{name}-claim-{i}"' in page and f'id="exp-{name}-claim-{i}"' in page
            assert str(markupsafe.escape(v["claim"])) in page
        n_figures += len(summary["figures"])
    assert n_figures > 10
    assert page.count('<img src="data:image/png;base64,') == n_figures
    # self-contained: every link is an anchor or embedded data, nothing to fetch
    assert all(u.startswith(("#", "data:")) for u in _links(page))
    assert "Missing or failed" not in page
    assert "AMD" in page or "Intel" in page or "CPU" in page  # the runs' environment.json
    # the runs of all four experiments trained first in one pool, then each was analysed
    (pool,) = saved["pools"]
    assert pool["experiments"] == list(ORDER) and pool["failed"] == 0
    assert pool["runs"] == sum(e["runs"] for e in saved["experiments"])
    assert all(e["trained_in_pool"] == e["runs"] == e["to_train"] for e in saved["experiments"])
    assert any("run(s) trained in the pool; its analysis" in line for line in lines)
    assert saved["wall_seconds"] == pytest.approx(
        pool["seconds"] + sum(e["wall_seconds"] for e in saved["experiments"])
    )
    assert any(
        line.startswith(f"[training] {pool['runs']} run(s) of 4 experiments") for line in lines
    )
    shared = f"the shared training of {pool['runs']} runs of exp1, exp2, exp3, percolation"
    assert shared in page and "wall time (pooled: analysis)" in page
    # progress: which experiment and run, and an estimate of the time left
    assert any(line.startswith("[exp2 2/4]") for line in lines)
    assert any(re.match(r"\[exp3\] run \d+/8 ", line) for line in lines)
    assert any("estimated training time left" in line and "estimate" in line for line in lines)


def test_second_reproduce_trains_nothing(tiny):
    out = tiny[0]
    checkpoints = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    summaries = {n: (out / n / "summary.json").stat().st_mtime_ns for n in ORDER}
    assert len(checkpoints) > 10
    lines: list[str] = []
    record = reproduce(out, scale="tiny", executor=ONE, log=lines.append, heartbeat_seconds=0)
    assert {e["status"] for e in record["experiments"]} == {"up to date"}
    assert all(e["to_train"] == 0 for e in record["experiments"])
    for e in record["experiments"]:  # the time each took when it ran, not this call's check
        ran = json.loads((out / e["name"] / "summary.json").read_text())["wall_seconds"]
        assert e["wall_seconds"] == pytest.approx(ran) and e["wall_seconds"] > 0
        assert e["call_seconds"] < e["wall_seconds"]
    assert record["pools"] == tiny[1]["pools"]  # the shared training of the first call
    assert record["wall_seconds"] == pytest.approx(
        record["pools"][0]["seconds"] + sum(e["wall_seconds"] for e in record["experiments"])
    )
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == checkpoints
    # not even analysed again: the summaries are the same files
    assert {n: (out / n / "summary.json").stat().st_mtime_ns for n in ORDER} == summaries
    assert any("0 to train (up to date, skipped)" in line for line in lines)
    assert any("no training left" in line for line in lines)


def test_failed_run_is_recorded_listed_and_does_not_stop_the_others(tiny, tmp_path, monkeypatch):
    out = tmp_path / "again"
    for name in ("exp1", "percolation"):
        shutil.copytree(tiny[0] / name, out / name)
    # one percolation run to train again, and its training fails
    lost = sorted((out / "percolation" / "runs").iterdir())[0]
    shutil.rmtree(lost)

    def broken(cfg, run_dir, **kwargs):
        raise RuntimeError("disk <full> & gone")

    monkeypatch.setattr(training, "train", broken)
    code = main(
        [
            "reproduce",
            "--scale",
            "tiny",
            "--only",
            "percolation,exp1",
            "--out",
            str(out),
            "--workers",
            "1",
            "--threads",
            "1",
            "--no-progress",
        ]
    )
    assert code == 1
    record = json.loads((out / "reproduce.json").read_text())
    status = {e["name"]: e for e in record["experiments"]}
    assert status["exp1"]["status"] == "up to date"  # a copied, finished experiment
    assert status["percolation"]["status"] == "failed"
    assert "1 run(s) failed" in status["percolation"]["error"]
    assert "disk <full> & gone" in json.loads((lost / FAILURE_FILE).read_text())["error"]
    page = (out / "report.html").read_text()
    assert "Missing or failed" in page
    assert "disk &lt;full&gt; &amp; gone" in page and "disk <full>" not in page
    assert lost.name in page  # the failed run is listed by its key
    for name in ("exp2", "exp3"):  # never run here: listed as missing
        assert f'<section id="exp-{name}"' in page
        assert re.search(rf'href="#exp-{name}">{name}</a>: missing', page)
    # the page of the one experiment folder lists the failure too
    assert main(["report", str(out / "percolation"), "--out", str(tmp_path / "p.html")]) == 0
    one = (tmp_path / "p.html").read_text()
    assert "Runs not finished" in one and "failed" in one and lost.name in one
    # the time estimate: the steps left of the lost run at the finished runs' rate
    (p,) = plan_reproduce("tiny", out, ["percolation"])
    runs_left, steps_left, seconds = Progress([p]).estimate()
    assert runs_left == 1 and steps_left == p.cfg.max_steps
    assert seconds is not None and seconds > 0


def _tiny_call(out: Path, only: list[str], lines: list[str], **kwargs) -> dict:
    """A tiny reproduce of ``only`` into ``out`` on one worker, its lines into ``lines``."""
    return reproduce(
        out, scale="tiny", only=only, executor=ONE, log=lines.append, heartbeat_seconds=0, **kwargs
    )


def test_a_run_failing_in_the_pool_fails_its_experiment_only(tiny, tmp_path, monkeypatch):
    """Two experiments with a run to train each: both train in one pool; the one whose run
    fails is marked failed (its run trained once, not again), the other is analysed."""
    out = tmp_path / "pooled"
    for name in ("exp1", "percolation"):
        shutil.copytree(tiny[0] / name, out / name)
    lost = {n: sorted((out / n / "runs").iterdir())[0] for n in ("exp1", "percolation")}
    for d in lost.values():
        shutil.rmtree(d)
    real_train, calls = training.train, []

    def train(cfg, run_dir, **kwargs):
        calls.append(Path(run_dir).name)
        if Path(run_dir) == lost["percolation"]:
            raise RuntimeError("diverged")
        return real_train(cfg, run_dir, **kwargs)

    monkeypatch.setattr(training, "train", train)
    lines: list[str] = []
    record = _tiny_call(out, ["exp1", "percolation"], lines)
    assert record["failed"] == ["percolation"]
    (pool,) = record["pools"]
    assert pool["experiments"] == ["exp1", "percolation"]
    assert pool["runs"] == 2 and pool["failed"] == 1
    assert sorted(calls) == sorted(d.name for d in lost.values())  # each trained once
    status = {e["name"]: e for e in record["experiments"]}
    assert status["exp1"]["status"] == "done" and status["exp1"]["trained_in_pool"] == 1
    assert status["percolation"]["status"] == "failed"
    assert "1 run(s) failed in the shared training" in status["percolation"]["error"]
    assert lost["percolation"].name in status["percolation"]["error"]
    assert "diverged" in status["percolation"]["error"]
    assert any(line.startswith("[percolation] run 1/") and "FAILED" in line for line in lines)
    # rerunning retries the failed run (and only it)
    monkeypatch.setattr(training, "train", real_train)
    again = _tiny_call(out, ["exp1", "percolation"], lines)
    assert {e["name"]: e["status"] for e in again["experiments"]} == {
        "exp1": "up to date",
        "percolation": "done",
    }
    assert again["pools"] == [pool] and again["failed"] == []  # one run: nothing pooled


def test_no_pool_trains_each_experiment_in_its_own_sweep(tiny, tmp_path):
    out = tmp_path / "unpooled"
    for name in ("exp1", "exp3"):
        shutil.copytree(tiny[0] / name, out / name)
        shutil.rmtree(sorted((out / name / "runs").iterdir())[0])
    lines: list[str] = []
    record = _tiny_call(out, ["exp1", "exp3"], lines, pool=False)
    assert record["pools"] == [] and record["failed"] == []
    assert not any(line.startswith("[training]") for line in lines)
    assert all("trained_in_pool" not in e for e in record["experiments"])
    assert [e["to_train"] for e in record["experiments"]] == [1, 1]


def _png(width: int = 3, height: int = 2) -> bytes:
    """A valid grey PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_page_of_a_hand_made_summary_has_every_claim_and_escapes(tmp_path):
    folder = tmp_path / "exp9"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "a.png").write_bytes(_png())
    verdicts = [
        {
            "claim": "x <script>alert(1)</script> y",
            "paper": "a < b & c",
            "rule": "value <= 0.2",
            "value": [0.1, 0.3],
            "reproduced": False,
            "control": {"ring_torus": 0.5},
            "spread": {
                "seeds": [0, 1],
                "reproduced_in": 1,
                "mean": 0.2,
                "std": 0.14,
                "min": 0.1,
                "max": 0.3,
            },
        },
        {
            "claim": "second claim",
            "paper": "",
            "rule": "r",
            "value": 2.5,
            "reproduced": True,
            "spread": {"seeds": [0, 1, 2], "per_seed": [2.0, 2.5, 3.0], "mean": 2.5},
        },
        {
            "claim": 'third "quoted" claim',
            "paper": "p",
            "rule": "r",
            "value": None,
            "reproduced": True,
        },
    ]
    summary = {
        "experiment": "exp9-hand",
        "title": "Experiment 9 & friends",
        "setting": "tiny <model>",
        "device": "cpu",
        "wall_seconds": 100.0,
        "train_seconds": 80.0,
        "analysis_seconds": 20.0,
        "seeds": [0, 1],
        "verdicts": verdicts,
        "figures": ["a.png", "gone.png"],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "report.md").write_text(
        "# Experiment 9\n\n## Verdicts\n\n| claim |\n|---|\n| x |\n\nMachine: <b>big</b>.\n\n"
        "## Extra table\n\n| a | b |\n|---|---|\n| 1 & 2 | `c<d>` |\n\n## Figures\n\n![a](a.png)\n"
    )
    page = write_report(folder).read_text()
    for i in (1, 2, 3):
        assert f'href="#exp-exp9-claim-{i}"' in page and f'id="exp-exp9-claim-{i}"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &lt; b &amp; c" in page and "tiny &lt;model&gt;" in page
    assert "Experiment 9 &amp; friends" in page
    assert "third &#34;quoted&#34; claim" in page or "third &quot;quoted&quot; claim" in page
    # measured with its spread over seeds, the control, and the verdict with its count
    assert "seed 0: 0.1; seed 1: 0.3; mean 0.2" in page
    assert "ring torus 0.5" in page and "not reproduced (1 of 2 seeds)" in page
    assert "2.5; seed 0: 2; seed 1: 2.5; seed 2: 3; mean 2.5" in page
    # the experiment's own part of report.md, escaped; its verdict table and figures not again
    assert "<h4>Extra table</h4>" in page and "1 &amp; 2" in page
    assert "<code>c&lt;d&gt;</code>" in page and "Machine: &lt;b&gt;big&lt;/b&gt;." in page
    assert page.count('<img src="data:image/png;base64,') == 1
    # captioned by a sentence (this experiment has none written: the fallback), not the name
    assert f"<figcaption>{caption('exp9-hand', 'a.png')} " in page
    assert "<figcaption>a.png</figcaption>" not in page
    assert "Figure gone.png is listed in summary.json but its file is missing" in page
    assert len(collect(folder)["claims"]) == 3


def test_markdown_subset_and_report_md_sections():
    html = markdown_html("## T <1>\n\n- a & b\n- `c`\n\n| h | i |\n|---|---|\n| **x** | y |\n")
    assert html.splitlines()[0] == "<h4>T &lt;1&gt;</h4>"
    assert "<ul><li>a &amp; b</li><li><code>c</code></li></ul>" in html
    assert "<th>h</th><th>i</th>" in html and "<td><strong>x</strong></td>" in html
    md = "# t\n\n## Verdicts\n\n| c |\n|---|\n| 1 |\n\nafter\n\n## Figures\n\n![f](f.png)\n"
    assert report_md_sections(md) == "after"
    # a note before the verdict table (a run judged again) is kept, the table is not
    md = md.replace("## Verdicts\n\n", "## Verdicts\n\nJudged again.\n\n")
    assert report_md_sections(md) == "Judged again.\n\nafter"


def test_bad_input_fails_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(ValueError, match="exp9"):
        parse_only("exp1,exp9")
    out = tmp_path / "never"
    assert main(["reproduce", "--only", "exp9", "--out", str(out)]) == 2
    assert main(["reproduce", "--quick", "--scale", "tiny", "--out", str(out)]) == 2
    assert main(["reproduce", "--executor", "local", "--address", "x:1", "--out", str(out)]) == 2
    assert not out.exists()
    assert "allowed" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing-here")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert (
        preset_for("exp2", "quick") == "exp2-quick" and preset_for("exp2", "tiny") == "exp2-smoke"
    )


# ----------------------------------------------------------------------------- browser
def _chromium() -> str | None:
    import shutil as sh

    for name in ("chromium", "chromium-browser"):
        path = sh.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def test_page_in_headless_chromium(tiny, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright, or the [test] extra)")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no chromium binary (Debian: apt-get install chromium)")
    out = tiny[0]
    t0 = time.perf_counter()
    with sync_playwright() as pw:
        # --no-sandbox: Chromium refuses its sandbox as root (CI containers)
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((out / "report.html").resolve().as_uri())
            page.wait_for_load_state("load")
            ids = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
            assert {"claims", "reproduce"} | {f"exp-{n}" for n in ORDER} <= set(ids)
            widths = page.eval_on_selector_all(
                "img", "els => els.map(e => e.complete ? e.naturalWidth : 0)"
            )
            assert len(widths) > 10 and all(w > 0 for w in widths), widths
            rows = page.eval_on_selector_all("#claims-table tbody tr", "els => els.length")
            n_claims = sum(
                len(json.loads((out / n / "summary.json").read_text())["verdicts"]) for n in ORDER
            )
            assert rows == n_claims
            # the verdicts the reader sees are the summaries' verdicts, in order
            shown = page.eval_on_selector_all(
                "#claims-table tbody td.verdict", "els => els.map(e => e.textContent.trim())"
            )
            expected = [
                verdict_of(v)
                for n in ORDER
                for v in json.loads((out / n / "summary.json").read_text())["verdicts"]
            ]
            assert [t.split(":")[0] for t in shown] == expected
            # every figure has a caption, a sentence
            captions = page.eval_on_selector_all(
                "figure", "els => els.map(e => (e.querySelector('figcaption') || {}).textContent)"
            )
            assert captions and all(c and len(c.split()) > 4 for c in captions), captions
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    print(f"browser check: {time.perf_counter() - t0:.1f} s; screenshot {shot}")


def test_a_rule_with_bars_stays_in_its_cell():
    from factordiff.experiments.markdown_html import table_cells as _cells
    from factordiff.experiments.report import verdict_table

    v = {"claim": "c", "rule": "|fitted - 2| <= 0.5", "value": 1.6, "reproduced": True}
    head, _, row = verdict_table([v])
    assert len(_cells(row)) == len(_cells(head)) == 4
    assert _cells(row)[2] == "|fitted - 2| <= 0.5"
    nj = {**v, "reproduced": False, "not_judged": "the budget check failed"}
    assert _cells(verdict_table([nj])[2])[3] == "**not judged**: the budget check failed"
