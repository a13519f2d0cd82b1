"""Sweeps: run folders from config hashes, executors, results table, status, the skeleton."""

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from factordiff.cli import main
from factordiff.config import apply_overrides, to_dict
from factordiff.experiments.skeleton import (
    Experiment,
    Verdict,
    combine_seeds,
    run_experiment,
)
from factordiff.experiments.sweep import (
    FAILURE_FILE,
    LOCK_FILE,
    LocalExecutor,
    SweepFailed,
    make_executor,
    plan_sweep,
    read_sweep,
    run_key,
    sweep_status,
    train_run,
    write_sweep,
)
from factordiff.presets import preset_config
from factordiff.training import run_state


def tiny(*over):
    # 64 images, batch 16: 4 steps per epoch; a 6-step budget, no evaluation
    base = ["train.max_steps=6", "train.eval_every_epochs=0", "train.checkpoint_epochs=[0]"]
    return apply_overrides(preset_config("tiny"), base + list(over))


def share_sweep(shares=(1.0, 0.5, 0.25)):
    return [({"share": s}, tiny(f"data.subsample={s}")) for s in shares]


def mtimes(runs):
    return {r.key: (r.dir / "checkpoints" / "latest.pt").stat().st_mtime_ns for r in runs}


# ----------------------------------------------------------------------------- run folders
def test_run_key_leaves_the_device_out_and_follows_the_config():
    a = tiny()
    assert run_key(a) == run_key(apply_overrides(a, ["device=cpu"]))
    assert run_key(a) != run_key(apply_overrides(a, ["train.lr=0.01"]))
    assert run_key(a) != run_key(apply_overrides(a, ["seed=1"]))
    assert len(run_key(a)) == 12 and run_key(a) == run_key(tiny())


def test_run_key_of_a_config_from_before_label_encoding_is_unchanged():
    import hashlib

    from factordiff.config import RunConfig, saved_as_current

    for cfg in (tiny(), preset_config("exp1-quick")):
        old = to_dict(cfg)  # as written before model.label_encoding existed
        old.pop("device")
        del old["model"]["label_encoding"]
        del old["model"]["kind"]  # added later still (tests/test_model_registry.py)
        text = json.dumps(old, sort_keys=True, separators=(",", ":"))
        assert run_key(cfg) == hashlib.sha256(text.encode()).hexdigest()[:12]
        # ... and resuming such a run sees no change of config (factordiff.migrate)
        resumed = saved_as_current(RunConfig, {**old, "device": "cpu"})
        assert resumed == to_dict(cfg) | {"device": "cpu"}
    positional = apply_overrides(tiny(), ["model.label_encoding=positional"])
    assert run_key(positional) != run_key(tiny())


def test_plan_refuses_bad_settings_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="same config"):
        plan_sweep(tmp_path, [({"a": 1}, tiny()), ({"a": 2}, tiny())])
    # a checkpoint epoch beyond the derived epochs of a 6-step budget on 16 images (6 epochs)
    bad = tiny("data.subsample=0.25", "train.checkpoint_epochs=[0,7]")
    with pytest.raises(ValueError, match=r"epochs in \[0, 6\]"):
        plan_sweep(tmp_path, [({"a": 1}, bad)])
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- local executor
def test_local_executor_two_workers_then_a_rerun_trains_nothing(tmp_path):
    runs = plan_sweep(tmp_path, share_sweep())
    done = []
    LocalExecutor(workers=2, threads=1).run(runs, on_done=lambda r, res, err: done.append(res))
    assert sorted(d["status"] for d in done) == ["finished"] * 3
    # the same step budget for every data share
    assert [run_state(r.dir)["step"] for r in runs] == [6, 6, 6]
    assert len({r.dir for r in runs}) == 3 and all(r.dir.parent == tmp_path / "runs" for r in runs)
    before = mtimes(runs)
    again = []
    LocalExecutor(workers=1, threads=1).run(runs, on_done=lambda r, res, err: again.append(res))
    assert [d["status"] for d in again] == ["skipped"] * 3
    assert mtimes(runs) == before


def test_failure_is_recorded_in_the_run_folder_and_shown_by_status(tmp_path, monkeypatch, capsys):
    import factordiff.training as training

    runs = plan_sweep(tmp_path, share_sweep((1.0, 0.5)))
    write_sweep(tmp_path, runs)
    real_train = training.train

    def flaky(cfg, run_dir, **kw):
        if cfg.data.subsample == 0.5:
            raise RuntimeError("disk on fire")
        return real_train(cfg, run_dir, **kw)

    monkeypatch.setattr(training, "train", flaky)
    with pytest.raises(SweepFailed, match="disk on fire"):
        LocalExecutor(workers=1, threads=1).run(runs)
    assert "disk on fire" in json.loads((runs[1].dir / FAILURE_FILE).read_text())["error"]
    assert not (runs[1].dir / LOCK_FILE).exists()  # the lock is released on failure

    st = sweep_status(tmp_path)
    assert st["counts"] == {"done": 1, "running": 0, "failed": 1, "pending": 0}
    assert st["remaining_steps"] == 6 and st["total_steps"] == 12
    assert main(["sweep", "status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "1 done, 0 running, 1 failed, 0 pending" in out
        and "error: RuntimeError: disk on fire" in out
    )

    # a later attempt that succeeds clears the failure
    monkeypatch.setattr(training, "train", real_train)
    LocalExecutor(workers=1, threads=1).run(runs)
    assert not (runs[1].dir / FAILURE_FILE).exists()
    assert sweep_status(tmp_path)["counts"]["done"] == 2


def test_status_reads_locks_live_and_stale(tmp_path):
    runs = plan_sweep(tmp_path, share_sweep((1.0, 0.5)))
    write_sweep(tmp_path, runs)
    for r in runs:
        r.dir.mkdir(parents=True)
    host = socket.gethostname()
    live = {"pid": os.getpid(), "host": host, "started": "now"}
    (runs[0].dir / LOCK_FILE).write_text(json.dumps(live))
    # a pid that cannot exist: a worker that was killed left this behind
    (runs[1].dir / LOCK_FILE).write_text(json.dumps({**live, "pid": 2**22 + 12345}))
    st = {r["params"]["share"]: r["status"] for r in sweep_status(tmp_path)["runs"]}
    assert st == {1.0: "running", 0.5: "pending"}
    # the stale lock does not stop a new attempt
    res = train_run(to_dict(runs[1].config), str(runs[1].dir))
    assert res["status"] == "finished"


def test_make_executor_checks_its_options():
    with pytest.raises(ValueError, match="executor = 'slurm'"):
        make_executor("slurm")
    with pytest.raises(ValueError, match="workers = 0"):
        make_executor("local", workers=0)
    with pytest.raises(ValueError, match="--address is for --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(ValueError, match="--workers is for --executor local"):
        make_executor("ray", workers=2)


# ----------------------------------------------------------------------------- skeleton
class ShareExperiment(Experiment):
    """A toy experiment: does the final loss stay below 2 for every data share and seed?"""

    name = "shares"
    title = "Shares ({name})"

    def runs(self, cfg):
        return [
            ({"share": s, "seed": seed}, tiny(f"data.subsample={s}", f"seed={seed}"))
            for s in cfg.shares
            for seed in cfg.seeds
        ]

    def analyse(self, cfg, run, device):
        lines = (run.dir / "metrics.jsonl").read_text().splitlines()
        loss = [json.loads(x)["loss"] for x in lines if "loss" in json.loads(x)][-1]
        return {"row": {"step": run_state(run.dir)["step"], "loss": loss}}

    def verdicts(self, cfg, results):
        per_seed = {}
        for r in results:
            per_seed.setdefault(r["run"].params["seed"], []).append(r["row"]["loss"])
        return combine_seeds(
            [
                [Verdict("loss below 2", "none", "max loss over shares < 2", max(v), max(v) < 2)]
                for v in per_seed.values()
            ],
            list(per_seed),
        )

    def describe_setting(self, cfg):
        return "tiny, 6 steps"


@dataclass
class Cfg:
    shares: list
    seeds: list
    name: str = "toy"

    def validate(self):
        if not self.shares:
            raise ValueError("shares = [] is invalid; allowed: one or more shares")


def test_experiment_skeleton_results_table_and_report(tmp_path):
    import pandas as pd

    cfg = Cfg(shares=[1.0, 0.25], seeds=[0, 1])
    one = LocalExecutor(workers=1, threads=1)
    summary = run_experiment(ShareExperiment(), cfg, tmp_path, executor=one, log=lambda *a: None)
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert len(table) == 4
    for col in (
        "key",
        "run_dir",
        "param.share",
        "param.seed",
        "config.data.subsample",
        "config.train.max_steps",
        "config.seed",
        "step",
        "loss",
    ):
        assert col in table.columns, col
    assert "config.device" not in table.columns
    assert table["step"].tolist() == [6, 6, 6, 6]
    csv = pd.read_csv(tmp_path / "results.csv")
    assert csv["key"].tolist() == table["key"].tolist()
    assert sorted(table["key"]) == sorted(r.key for r in read_sweep(tmp_path))
    # every saved config records its schema version (factordiff.migrate)
    from factordiff.migrate import SCHEMA_VERSION
    from factordiff.training import load_checkpoint

    run_dir = tmp_path / "runs" / table["key"][0]
    for saved in (
        json.loads((tmp_path / "experiment.json").read_text()),
        json.loads((tmp_path / "sweep.json").read_text())["runs"][0]["config"],
        json.loads((run_dir / "config.json").read_text()),
        load_checkpoint(run_dir / "checkpoints" / "latest.pt")["config"],
    ):
        assert saved["schema_version"] == SCHEMA_VERSION

    (v,) = summary["verdicts"]
    assert v["spread"]["seeds"] == [0, 1] and len(v["value"]) == 2
    assert v["spread"]["min"] <= v["spread"]["mean"] <= v["spread"]["max"]
    report = (tmp_path / "report.md").read_text()
    assert "# Shares (toy)" in report and "seed 0:" in report and "of 2 seeds" in report
    from factordiff.hardware import cpu_description

    # the machine is named with the device: the CPU's model and capability
    assert summary["machine"] == f"CPU {cpu_description()}"
    assert f"on cpu (CPU {cpu_description()})." in report

    # a second run of the same sweep trains nothing; with progress, a line per analysed run
    before = mtimes(read_sweep(tmp_path))
    seen, flags = [], []

    class Watched(ShareExperiment):
        def analyse(self, cfg, run, device):
            flags.append(self.show_progress)
            return super().analyse(cfg, run, device)

    watched = Watched()
    run_experiment(watched, cfg, tmp_path, executor=one, log=seen.append, progress=True)
    assert mtimes(read_sweep(tmp_path)) == before
    assert [m.split(" ")[:3] for m in seen if m.startswith("analys")] == [
        ["analysing", "run", f"{i}/4"] if j == 0 else ["analysed", "run", f"{i}/4"]
        for i in range(1, 5)
        for j in (0, 1)
    ]
    assert flags == [True] * 4 and watched.show_progress is False  # set on a copy only
    # force trains every run again, from scratch, to the same budget
    (tmp_path / "runs" / table["key"][0] / "stale.txt").write_text("from the old run")
    run_experiment(ShareExperiment(), cfg, tmp_path, executor=one, force=True, log=lambda *a: None)
    after = mtimes(read_sweep(tmp_path))
    assert all(after[k] != before[k] for k in before)
    assert not (tmp_path / "runs" / table["key"][0] / "stale.txt").exists()
    assert pd.read_parquet(tmp_path / "results.parquet")["step"].tolist() == [6, 6, 6, 6]


def test_invalid_experiment_config_trains_nothing(tmp_path):
    with pytest.raises(ValueError, match="shares = \\[\\]"):
        run_experiment(ShareExperiment(), Cfg(shares=[], seeds=[0]), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_combine_seeds_spread_and_rule():
    a = [Verdict("c", "p", "r", 1.0, True), Verdict("d", "p", "r", [1, 2], False)]
    b = [Verdict("c", "p", "r", 3.0, False), Verdict("d", "p", "r", [3, 4], False)]
    c, d = combine_seeds([a, b], [0, 1])
    assert c.value == [1.0, 3.0] and c.reproduced is False
    assert c.spread["reproduced_in"] == 1 and c.spread["mean"] == 2.0 and c.spread["max"] == 3.0
    assert d.spread["mean"] == [2.0, 3.0]
    assert combine_seeds([a], [0]) == a  # one seed: unchanged


# ----------------------------------------------------------------------------- ray
@pytest.mark.slow  # about 100 s on 2 idle cores, most of it Ray starting and retrying
def test_ray_executor_retries_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'factordiff[ray]')")
    from factordiff.experiments.sweep import RayExecutor

    runs = plan_sweep(tmp_path, share_sweep((1.0, 0.5)))
    marker = str(tmp_path / "killed-once")

    def crash_once(config, run_dir, threads, force):
        # the first attempt of the first run dies mid-run like a killed worker
        import os

        from factordiff.experiments.sweep import train_run as real

        if config["data"]["subsample"] == 1.0 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return real(config, run_dir, threads, force)

    ex = RayExecutor(threads=1, max_retries=2, num_cpus=2, task=crash_once)
    try:
        done = []
        ex.run(runs, on_done=lambda r, res, err: done.append((res, err)))
    finally:
        ray.shutdown()
    assert Path(marker).exists()
    assert all(err is None for _, err in done) and len(done) == 2
    assert [run_state(r.dir)["step"] for r in runs] == [6, 6]
    # results pass through the folder: the local executor then trains nothing
    again = []
    LocalExecutor(workers=1, threads=1).run(runs, on_done=lambda r, res, err: again.append(res))
    assert [d["status"] for d in again] == ["skipped", "skipped"]


# ----------------------------------------------------------------------------- command line
def test_experiment_cli_seeds_are_runs_of_the_sweep(capsys, tmp_path):
    assert main(["experiment", "exp1", "--quick", "--seeds", "0,1,2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"seeds": [\n    0,\n    1,\n    2\n  ]' in out and "with 3 run(s)" in out
    assert main(["experiment", "exp1", "--quick", "--seeds", "0,x"]) == 2
    assert "--seeds '0,x' is invalid" in capsys.readouterr().err
    assert main(["experiment", "exp1", "--quick", "--seed", "1", "--seeds", "0,1"]) == 2
    assert main(["experiment", "exp9"]) == 2
    assert "valid experiments: ['exp1', 'exp1-quick'" in capsys.readouterr().err
    # bad analysis settings fail before anything trains or is written
    out_dir = tmp_path / "e"
    code = main(["experiment", "exp1", "--quick", "--set", "layer=nope", "--out", str(out_dir)])
    assert code == 2 and "layer 'nope' is not a submodule" in capsys.readouterr().err
    assert not out_dir.exists()
    code = main(["experiment", "exp1", "--quick", "--set", "pooling=avg", "--out", str(out_dir)])
    assert code == 2 and "pooling = 'avg' is invalid" in capsys.readouterr().err
    assert main(["sweep", "status", str(tmp_path)]) == 2
    assert "has no sweep.json" in capsys.readouterr().err


def test_report_renders_one_value_over_several_seeds():
    from factordiff.experiments.report import verdict_table

    v = {
        "claim": "c",
        "paper": "p",
        "rule": "r",
        "value": 1.79,
        "reproduced": True,
        "control": None,
        "spread": {"seeds": [0, 1], "reproduced_in": 1},
    }
    text = "\n".join(verdict_table([v]))
    assert "1.79 (from seeds [0, 1])" in text


def test_runs_train_longest_first(tmp_path):
    from factordiff.experiments.exp3 import exp3_config, sweep_runs
    from factordiff.experiments.sweep import longest_first, run_cost

    runs = plan_sweep(tmp_path, sweep_runs(exp3_config("exp3-quick", seeds=[0])))
    ordered = longest_first(runs)
    costs = [run_cost(r) for r in ordered]
    assert costs == sorted(costs, reverse=True) and sorted(ordered, key=runs.index) == runs
    # N = 32 on full batches first, N = 8 on its 1-image share last
    assert {r.params["N"] for r in ordered[:7]} == {32}
    assert ordered[-1].params == {"N": 8, "share": 0.02, "dataset": "bumps", "seed": 0}
    # the progress estimate weighs a step by the images it holds: 1 of them here, not 64
    from factordiff.experiments.sweep import run_budget, step_weight

    def _weight(run):
        return step_weight(run, run_budget(run)[0])

    assert _weight(ordered[-1]) == 1 * 8 * 8 and _weight(ordered[0]) == 64 * 32 * 32


def test_a_saved_config_matches_across_a_field_added_later(tmp_path):
    from factordiff.experiments.exp2 import exp2_config
    from factordiff.experiments.skeleton import saved_config_matches

    cfg = exp2_config("exp2-smoke")
    saved = json.loads(json.dumps(to_dict(cfg)))
    del saved["run"]["model"]["label_encoding"]  # saved before the field existed
    (tmp_path / "experiment.json").write_text(json.dumps(saved))
    assert saved_config_matches(tmp_path, cfg)  # read back at its default: the same config
    saved["run"]["train"]["max_steps"] = cfg.run.train.max_steps + 1
    (tmp_path / "experiment.json").write_text(json.dumps(saved))
    assert not saved_config_matches(tmp_path, cfg)
    saved["run"]["train"]["no_such_key"] = 1  # a config this version cannot read
    (tmp_path / "experiment.json").write_text(json.dumps(saved))
    assert not saved_config_matches(tmp_path, cfg)
