"""Self-tests of stage reuse (verification/reuse.py): real tiny stages run through acceptance.run on a
temporary tree, each appending its name to a counter file, so a rerun and a reuse are told apart by
their side effect, not by what the code says it did."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from verification import acceptance, report, reuse, verdicts
from verification.fingerprint import tree_fingerprint
from verification.verdicts import BenchEvidence, Evidence

NO_BENCH = BenchEvidence("NOT RUN", "no benchmark report")
# A stage as pytest with the results plugin would run it: it records FR-001 (an image-tier ID) with
# the fingerprint of the tree it ran on, and exits with the code its control file says.
SCRIPT = """
import json, pathlib, sys
from verification.fingerprint import tree_fingerprint
name, raw, tree, control = sys.argv[1], *map(pathlib.Path, sys.argv[2:5])
with open(control / "runs", "a") as out:
    out.write(name + "\\n")
if (control / f"{name}.edit").exists():  # a stage that edits the tree (the chart)
    with open(tree / "chart" / "values.yaml", "a") as out:
        out.write("# edited\\n")
if (control / f"{name}.crash").exists():  # killed before it wrote its results
    sys.exit(3)
outcome = (control / f"{name}.outcome").read_text() if (control / f"{name}.outcome").exists() else "passed"
record = {"nodeid": f"verification/images/t.py::test_{name}", "ids": ["FR-001"], "tier": "image",
          "outcome": outcome, "reason": "", "duration_s": 0.1, "evidence": [], "figures": [], "guards": []}
(raw / f"results-{name}.json").write_text(json.dumps({"fingerprint": tree_fingerprint(tree), "records": [record]}))
sys.exit(int((control / f"{name}.exit").read_text()) if (control / f"{name}.exit").exists() else 0)
"""


@pytest.fixture
def tree(monkeypatch, tmp_path) -> Path:
    """A temporary tree (chart, images, docs, verification) the fingerprint reads, and temporary reports."""
    root = tmp_path / "tree"
    for rel, text in {"chart/values.yaml": "replicaCount: 2\n", "images/backend/Dockerfile": "FROM scratch\n",
                      "docs/guide.md": "# Guide\n", "verification/t.py": "x = 1\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (tmp_path / "control").mkdir()
    for module in (report, acceptance):
        monkeypatch.setattr(module, "REPORTS", tmp_path / "reports")
        monkeypatch.setattr(module, "RAW", tmp_path / "reports" / "acceptance")
    monkeypatch.setattr(acceptance, "tree_fingerprint", lambda: tree_fingerprint(root))
    monkeypatch.setattr(report, "bench_evidence", lambda *a, **k: NO_BENCH)
    for name in reuse.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return root


def _stage(tree: Path, name: str = "image") -> acceptance.Stage:
    control = tree.parent / "control"
    return acceptance.Stage(name, [sys.executable, "-c", SCRIPT, name, str(acceptance.RAW), str(tree), str(control)],
                            pytest=True, proves=("static", "image"))


def _runs(tree: Path) -> list[str]:
    path = tree.parent / "control" / "runs"
    return path.read_text().split() if path.exists() else []


def _fr_001(tree: Path) -> verdicts.Verdict:
    """FR-001's verdict from the kept results against the tree as it is now."""
    rows = report.build_rows(report.load_records(), Evidence(now=tree_fingerprint(tree), bench=NO_BENCH))
    return next(row.verdict for row in rows if row.requirement.id == "FR-001")


def test_a_passing_stage_is_reused_while_its_inputs_are_unchanged(tree, capsys):
    [first] = acceptance.run([_stage(tree)], "none")
    [again] = acceptance.run([_stage(tree)], "none")
    assert _runs(tree) == ["image"]  # ran once
    assert first.reused is None and again.reused is not None and not again.failed
    assert again.duration_s == first.duration_s  # the reused run's time
    assert f"reused from run of {again.reused}, inputs unchanged" in capsys.readouterr().out
    assert (acceptance.RAW / "results-image.json").exists() and (acceptance.RAW / "image.log").exists()
    assert _fr_001(tree).status == "PASS"
    # The report's stage table says which stage was reused, with the date of the run, and its time.
    overall = verdicts.sign_off_verdict([], [again], None)
    report.write_markdown([], tree.parent / "a.md", overall, report.load_stages())
    assert f"| image | PASS | {first.duration_s:.1f} s | reused: run of {again.reused}, inputs unchanged |" in \
        (tree.parent / "a.md").read_text()
    report.write_html([], [], tree.parent / "a.html", overall, report.load_stages())
    assert f"reused: run of {again.reused}" in (tree.parent / "a.html").read_text()


def test_a_stage_reruns_when_one_of_its_input_files_changes(tree):
    acceptance.run([_stage(tree)], "none")
    (tree / "chart" / "values.yaml").write_text("replicaCount: 1\n")  # the chart: an input of the image stage
    # Before the rerun, the kept results are STALE against the edited tree.
    assert _fr_001(tree).status == "STALE"
    [again] = acceptance.run([_stage(tree)], "none")
    assert _runs(tree) == ["image", "image"] and again.reused is None
    assert _fr_001(tree).status == "PASS"


def test_a_change_outside_its_inputs_neither_reruns_it_nor_makes_it_stale(tree):
    assert "docs" not in reuse.inputs_of("image")
    acceptance.run([_stage(tree)], "none")
    (tree / "docs" / "guide.md").write_text("# Guide, edited\n")
    [again] = acceptance.run([_stage(tree)], "none")
    assert _runs(tree) == ["image"] and again.reused is not None
    assert _fr_001(tree).status == "PASS"
    # ... while the same edit reruns a stage that reads the docs.
    acceptance.run([_stage(tree, "static")], "none")
    (tree / "docs" / "guide.md").write_text("# Guide, edited twice\n")
    acceptance.run([_stage(tree, "static")], "none")
    assert _runs(tree) == ["image", "static", "static"]


def test_a_failed_stage_is_never_reused_and_leaves_no_old_results(tree):
    control = tree.parent / "control"
    (control / "image.exit").write_text("1")
    [failed] = acceptance.run([_stage(tree)], "none")
    assert failed.failed
    (control / "image.exit").unlink()
    [again] = acceptance.run([_stage(tree)], "none")
    assert _runs(tree) == ["image", "image"] and again.reused is None and not again.failed
    # A pass, then an input changes and the rerun fails before writing results: nothing of the pass stays.
    (tree / "images" / "backend" / "Dockerfile").write_text("FROM busybox\n")
    broken = acceptance.Stage("image", [sys.executable, "-c", "raise SystemExit(2)"], proves=("image",))
    acceptance.run([broken], "none")
    assert not (acceptance.RAW / "results-image.json").exists()


def test_a_kept_stage_whose_inputs_an_earlier_stage_changed_reruns_and_keeps_nothing_old(tree):
    control = tree.parent / "control"
    acceptance.run([_stage(tree, "setup"), _stage(tree)], "none")
    (control / "setup.edit").write_text("")
    (control / "image.crash").write_text("")
    setup, image = acceptance.run([_stage(tree, "setup"), _stage(tree)], "none")
    assert _runs(tree) == ["setup", "image", "setup", "image"] and image.failed
    assert not (acceptance.RAW / "results-image.json").exists()  # the first run's pass is gone


def test_a_stage_whose_tests_skipped_is_rerun(tree):
    (tree.parent / "control" / "image.outcome").write_text("skipped")  # e.g. Docker was missing then
    acceptance.run([_stage(tree)], "none")
    [again] = acceptance.run([_stage(tree)], "none")
    assert _runs(tree) == ["image", "image"] and again.reused is None


def test_force_reruns_everything(tree, monkeypatch):
    acceptance.run([_stage(tree)], "none")
    [again] = acceptance.run([_stage(tree)], "none", force=True)
    assert _runs(tree) == ["image", "image"] and again.reused is None
    monkeypatch.setenv("FORCE", "1")
    assert acceptance.arguments([]).force
    monkeypatch.setenv("FORCE", "0")
    assert not acceptance.arguments([]).force and acceptance.arguments(["--force"]).force


def test_a_changed_cluster_reruns_the_cluster_stages_only(tree):
    acceptance.run([_stage(tree, "image"), _stage(tree, "cluster")], "kind")
    acceptance.run([_stage(tree, "image"), _stage(tree, "cluster")], "kind")
    assert _runs(tree) == ["image", "cluster"]
    results = acceptance.run([_stage(tree, "image"), _stage(tree, "cluster")], "local")
    assert _runs(tree) == ["image", "cluster", "cluster"]
    assert [r.reused is not None for r in results] == [True, False]


def test_the_actions_always_run(tree):
    acceptance.run([_stage(tree, "setup")], "none")
    acceptance.run([_stage(tree, "setup")], "none")
    assert _runs(tree) == ["setup", "setup"]


def test_the_image_benchmark_reruns_only_when_a_recipe_changed(tree, monkeypatch):
    recipes = {"todo-backend": "r1"}
    monkeypatch.setattr(verdicts, "current_recipes", lambda: dict(recipes))
    control = tree.parent / "control"
    bench_report = acceptance.REPORTS / "bench-images.json"
    measure = (f"import json, pathlib; open({str(control / 'runs')!r}, 'a').write('bench-images\\n'); "
               f"pathlib.Path({str(bench_report)!r}).write_text(json.dumps([{{'image': 'todo-backend', "
               f"'fingerprint': open({str(control / 'recipe')!r}).read(), "
               f"'cold_s': 1.0, 'when': '2026-12-07 21:40'}}])); "
               f"raise SystemExit(int(open({str(control / 'exit')!r}).read()))")
    bench = acceptance.Stage("bench-images", [sys.executable, "-c", measure], proves=("bench",))
    acceptance.REPORTS.mkdir(parents=True, exist_ok=True)
    (control / "recipe").write_text("r1")
    (control / "exit").write_text("0")
    acceptance.run([bench], "none")
    [again] = acceptance.run([bench], "none")
    assert _runs(tree) == ["bench-images"] and again.reused == "2026-12-07 21:40"
    recipes["todo-backend"] = "r2"  # a Dockerfile changed
    (control / "recipe").write_text("r2")
    [rerun] = acceptance.run([bench], "none")
    assert _runs(tree) == ["bench-images", "bench-images"] and rerun.reused is None
    # A benchmark run that failed is rerun, though its report holds rows of the current recipes.
    (control / "exit").write_text("1")
    recipes["todo-backend"] = "r3"
    (control / "recipe").write_text("r3")
    [failed] = acceptance.run([bench], "none")
    assert failed.failed
    (control / "exit").write_text("0")
    [after] = acceptance.run([bench], "none")
    assert _runs(tree) == ["bench-images"] * 4 and after.reused is None


def test_the_load_tier_and_the_load_run_rerun_together(tree):
    """Both write reports/load/summary.json: one rerun alone would mix two runs' figures."""
    (tree.parent / "control" / "load.outcome").write_text("skipped")  # the load stage is rerun next time
    acceptance.run([_stage(tree, "load"), _stage(tree, "load-run")], "kind")
    acceptance.run([_stage(tree, "load"), _stage(tree, "load-run")], "kind")
    assert _runs(tree) == ["load", "load-run", "load", "load-run"]
