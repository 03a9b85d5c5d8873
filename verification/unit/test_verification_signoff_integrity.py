"""Self-tests of the sign-off's integrity: each way of being green while something failed is built
here for real (a stage that exits non-zero, a skipped sibling, a blind checker, a chart edited after
the run, a deselected test, a collection error, an XPASS, a load run whose gate failed, a person's
signature of another tree) and the sign-off is shown failing it or marking it, with the reason."""

from __future__ import annotations

import json
import sys

import pytest
from _pytest.mark.expression import Expression

from verification import acceptance, report, signoff, tiers, verdicts
from verification.fingerprint import changed_parts, tree_fingerprint
from verification.requirements import registry
from verification.verdicts import BenchEvidence, Evidence, LoadRun, StageResult, sign_off_verdict

NOW = {"chart": "c1", "images": "i1", "harness": "h1", "tests": "t1", "docs": "d1", "other": "o1"}
NO_BENCH = BenchEvidence("NOT RUN", "no benchmark report")
RESULTS_CONFTEST = 'pytest_plugins = ["verification.plugin", "verification.results"]\n'


def _record(rid: str, outcome: str, tier: str | None, name: str = "", **extra) -> dict:
    return {"nodeid": f"verification/{tier}/t.py::test_{name or rid}_{outcome}", "ids": [rid] if rid else [],
            "tier": tier, "outcome": outcome, "reason": "because" if outcome != "passed" else "",
            "duration_s": 0.1, "evidence": [], "figures": [], "guards": [], "fingerprint": NOW, **extra}


def _verdicts(records: list[dict], **evidence) -> dict[str, verdicts.Verdict]:
    rows = report.build_rows(records, Evidence(now=NOW, bench=NO_BENCH, **evidence))
    return {row.requirement.id: row.verdict for row in rows}


@pytest.fixture
def raw(monkeypatch, tmp_path):
    """The acceptance run's folders in a temporary place."""
    monkeypatch.setattr(report, "REPORTS", tmp_path)
    monkeypatch.setattr(report, "RAW", tmp_path / "acceptance")
    monkeypatch.setattr(acceptance, "REPORTS", tmp_path)
    monkeypatch.setattr(acceptance, "RAW", tmp_path / "acceptance")
    monkeypatch.setattr(report, "bench_evidence", lambda *a, **k: NO_BENCH)
    (tmp_path / "acceptance").mkdir()
    return tmp_path / "acceptance"


# --- every stage counts ----------------------------------------------------------------------------
def test_a_stage_that_exits_non_zero_fails_the_sign_off_and_the_ids_it_left_unproved(raw, capsys):
    crash = acceptance.Stage("cluster", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
                             proves=("static", "image", "runtime", "cluster"))
    fine = acceptance.Stage("frontend-checks", [sys.executable, "-c", "pass"])
    results = acceptance.run_stages([fine, crash])
    assert [(r.name, r.exit_code) for r in results] == [("frontend-checks", 0), ("cluster", 3)]
    assert (raw / "cluster.log").read_text().strip() == "boom"
    assert "cluster" in capsys.readouterr().out
    stages = report.load_stages()
    got = _verdicts([_record("FR-001", "passed", "image")], stages=stages)
    # US1-1 (cluster) has no record: the crashed stage never wrote one. FAIL, not NOT RUN or UNCOVERED.
    assert got["US1-1"].status == "FAIL" and "stage cluster exited 3" in got["US1-1"].reason
    assert got["FR-001"].status == "PASS"  # proved by its own stage, which passed
    overall = sign_off_verdict(list(got.values()), stages, {})
    assert not overall.signed and overall.reasons[0].startswith("stage cluster exited 3")


def _v(status: str, missing: str | None = None) -> verdicts.Verdict:
    return verdicts.Verdict(status, "because", "make it", missing)


def test_a_failed_stage_without_ids_still_fails_the_sign_off():
    lint = StageResult("frontend-checks", 1, "reports/acceptance/frontend-checks.log")
    overall = sign_off_verdict([_v("PASS"), _v("PASS")], [lint], {})
    assert not overall.signed and overall.reasons == [
        "stage frontend-checks exited 1 (log: reports/acceptance/frontend-checks.log)"]
    assert sign_off_verdict([_v("PASS"), _v("MANUAL")], [], {}).signed


def test_not_run_fails_unless_this_machine_cannot_run_what_is_missing():
    verdicts_ = [_v("PASS"), _v("NOT RUN", "cluster")]
    failed = sign_off_verdict(verdicts_, [], {})
    assert not failed.signed and "NOT RUN although this machine can run what they miss (cluster)" in failed.reasons[0]
    assert not sign_off_verdict(verdicts_, [], {"image": "no Docker engine"}).signed  # a cluster it could run
    assert sign_off_verdict(verdicts_, [], {"cluster": "no cluster: install kind"}).signed
    assert sign_off_verdict(verdicts_, [], None).signed  # a report rebuilt without a run: unknown
    for status in ("FAIL", "STALE", "UNCOVERED"):
        assert not sign_off_verdict([_v("PASS"), _v(status)], [], {"cluster": "no cluster"}).signed


def test_the_machine_preflight_names_what_it_cannot_run_and_derives_bench_and_the_load_run(monkeypatch):
    monkeypatch.setattr(tiers, "_docker_missing", lambda: "no Docker engine: run scripts/ensure-docker.sh")
    unable = acceptance.cannot_run("none")
    assert unable["cluster"] == "the cluster tier was switched off (CLUSTER=none)"
    assert unable["image"].startswith("no Docker engine") and unable["bench"] == unable["image"]
    assert unable[verdicts.LOAD_RUN] and "static" not in unable


def test_the_tier_stages_pass_the_empty_selection_as_a_failure(raw):
    """pytest's exit 5 (no test selected) used to be turned into 0: a stage proving nothing passed."""
    empty = acceptance.Stage("static", [sys.executable, "-c", "import sys; sys.exit(5)"], pytest=True,
                             proves=("static",))
    [result] = acceptance.run_stages([empty])
    assert result.failed and result.exit_code == 5


# --- all tests of the ID's tier must pass ------------------------------------------------------------
def test_a_skipped_sibling_at_the_proving_tier_makes_the_id_not_run():
    assert registry()["FR-014"].tier == "cluster"
    got = _verdicts([_record("FR-014", "passed", "cluster", "comparison"),
                     _record("FR-014", "skipped", "cluster", "frozen_backend", reason="no fault injection")])
    assert got["FR-014"].status == "NOT RUN"
    assert "test_frozen_backend_skipped" in got["FR-014"].reason and "no fault injection" in got["FR-014"].reason
    # A stronger tier's skip is missing extra evidence, not missing proof.
    got = _verdicts([_record("FR-005", "passed", "static"), _record("FR-005", "skipped", "cluster")])
    assert got["FR-005"].status == "PASS"


def test_an_id_naming_two_tiers_needs_proof_at_each():
    assert registry()["SC-008"].tiers == ("image", "cluster")
    only_image = _verdicts([_record("SC-008", "passed", "image")])["SC-008"]
    assert only_image.status == "NOT RUN" and "cluster" in only_image.reason
    both = _verdicts([_record("SC-008", "passed", "image", "build"), _record("SC-008", "passed", "cluster", "dry")])
    assert both["SC-008"].status == "PASS"


# --- checkers guard IDs -------------------------------------------------------------------------------
def test_a_blind_checker_fails_the_ids_it_guards_and_an_unrun_one_leaves_them_not_run():
    evidence = [_record("FR-007", "passed", "static")]
    blind = _record("", "failed", "harness", "policy_sees_a_missing_limit", guards=["FR-007"])
    got = _verdicts([*evidence, blind])
    assert got["FR-007"].status == "FAIL" and "blind" in got["FR-007"].reason
    assert "policy_sees_a_missing_limit" in got["FR-007"].reason
    unrun = _record("", "skipped", "harness", "policy_sees_a_missing_limit", guards=["FR-007"])
    assert _verdicts([*evidence, unrun])["FR-007"].status == "NOT RUN"
    seeing = _record("", "passed", "harness", "policy_sees_a_missing_limit", guards=["FR-007"])
    assert _verdicts([*evidence, seeing])["FR-007"].status == "PASS"


def test_guards_marker_is_refused_on_a_test_of_the_product(pytester: pytest.Pytester):
    pytester.makeconftest(RESULTS_CONFTEST)
    pytester.makepyfile(test_probe='import pytest\n@pytest.mark.guards("FR-007")\ndef test_x():\n    pass\n')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*guards(...) is for harness self-tests*"])


# --- results bound to the tree ---------------------------------------------------------------------------
def test_results_of_an_edited_tree_are_stale(tmp_path):
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "values.yaml").write_text("replicaCount: 2\n")
    (tmp_path / "verification").mkdir()
    (tmp_path / "verification" / "t.py").write_text("x = 1\n")
    files = ["chart/values.yaml", "verification/t.py"]
    then = tree_fingerprint(tmp_path, files)
    assert changed_parts(then, tree_fingerprint(tmp_path, files)) == []
    (tmp_path / "chart" / "values.yaml").write_text("replicaCount: 1\n")
    now = tree_fingerprint(tmp_path, files)
    assert changed_parts(then, now) == ["chart"]
    record = _record("FR-001", "passed", "image", fingerprint=then)
    stale = report.build_rows([record], Evidence(now=now, bench=NO_BENCH))
    got = {row.requirement.id: row.verdict for row in stale}["FR-001"]
    assert got.status == "STALE" and "chart changed" in got.reason and got.command == "make acceptance"


def test_make_report_after_an_edit_marks_the_old_passes_stale(raw, monkeypatch, capsys):
    (raw / "results-image.json").write_text(json.dumps(
        {"fingerprint": {**NOW, "chart": "before-the-edit"}, "records": [_record("FR-001", "passed", "image")]}))
    monkeypatch.setattr(report, "tree_fingerprint", lambda: NOW)
    assert acceptance.main(["--only-report"]) == 1
    out = capsys.readouterr().out
    assert "STALE: FR-001: 1 result(s) of another tree (chart changed since the run" in out


# --- records: deselected, collection errors, XPASS -------------------------------------------------------
def test_deselected_tests_and_collection_errors_are_recorded(pytester: pytest.Pytester):
    pytester.makeconftest(RESULTS_CONFTEST)
    pytester.makepyfile(
        test_probe='import pytest\n'
                   '@pytest.mark.requirement("FR-005")\ndef test_runs():\n    pass\n'
                   '@pytest.mark.requirement("FR-006")\ndef test_left_out():\n    pass\n',
        test_broken="import no_such_module_here\n")
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-k", "not left_out",
                                           f"--results-json={out}")
    assert result.ret != 0  # the collection error
    data = json.loads(out.read_text())
    assert set(data["fingerprint"]) >= {"chart", "harness", "tests"}
    by_name = {r["nodeid"]: r for r in data["records"]}
    # The collection error interrupts the session: the test that was selected is recorded as never reached.
    assert by_name["test_probe.py::test_runs"]["outcome"] == "not run"
    assert by_name["test_probe.py::test_left_out"]["outcome"] == "deselected"
    assert by_name["test_probe.py::test_left_out"]["ids"] == ["FR-006"]
    assert by_name["test_broken.py"]["outcome"] == "failed"
    assert "collection error" in by_name["test_broken.py"]["reason"] and "no_such_module_here" in \
        by_name["test_broken.py"]["reason"]
    deselected = {**by_name["test_probe.py::test_left_out"], "tier": "static", "fingerprint": NOW}
    assert _verdicts([deselected])["FR-006"].status == "NOT RUN"


def test_an_xpass_is_a_failure_in_this_suite(request: pytest.FixtureRequest):
    """A test that "passes by accident" proves nothing: the project's pytest configuration makes it fail."""
    assert request.config.getini("xfail_strict") is True


def test_records_merged_from_several_stages_keep_the_run_that_counted(raw):
    ran = _record("FR-001", "passed", "image", "build")
    (raw / "results-static.json").write_text(json.dumps(
        {"fingerprint": NOW, "records": [{**ran, "outcome": "deselected"}]}))
    (raw / "results-image.json").write_text(json.dumps({"fingerprint": NOW, "records": [ran]}))
    [merged] = report.load_records()
    assert merged["outcome"] == "passed"


# --- the load verdict is the load run's gate ----------------------------------------------------------------
def _summary(**over) -> dict:
    summary = {"passed": True, "sampled_from": "kubelet", "criteria": {"zero_failures": True, "p95_below_threshold": True},
               "budget": {"limits_lifted": True, "within": True, "peak_memory_bytes": 400 * 2**20,
                          "peak_cpu_cores": 0.9}}
    return {**summary, **over}


def _load(summary: dict | None, exit_code: int = 0, fingerprint: dict | None = None) -> dict[str, verdicts.Verdict]:
    records = [_record(rid, "passed", "load") for rid in ("SC-004", "SC-010")]
    return _verdicts(records, load_run=LoadRun(exit_code, fingerprint or NOW, summary))


def test_the_load_ids_follow_the_acceptance_load_run_gate():
    assert {rid: v.status for rid, v in _load(_summary()).items() if rid in ("SC-004", "SC-010")} == {
        "SC-004": "PASS", "SC-010": "PASS"}
    failed = _load(_summary(passed=False, criteria={"zero_failures": False}), exit_code=1)
    assert failed["SC-004"].status == "FAIL" and "zero_failures" in failed["SC-004"].reason
    docker = _load(_summary(sampled_from="docker"))["SC-004"]
    assert docker.status == "NOT RUN" and "not a deployment" in docker.reason
    capped = _load(_summary(budget={"limits_lifted": False}))
    assert capped["SC-004"].status == "PASS" and capped["SC-010"].status == "NOT RUN"
    over = _load(_summary(budget={"limits_lifted": True, "within": False, "peak_memory_bytes": 3 * 2**30}))
    assert over["SC-010"].status == "FAIL"
    assert _load(None, exit_code=2)["SC-004"].status == "FAIL"
    assert _load(_summary(), fingerprint={**NOW, "chart": "old"})["SC-004"].status == "STALE"
    # With the gate's own map of criteria to requirements, a failed budget run fails SC-010 only.
    split = _summary(passed=False, criteria={"zero_failures": True, "memory_below_budget": False},
                     requirements={"SC-004": {"criteria": ["zero_failures"], "passed": True},
                                   "SC-010": {"criteria": ["memory_below_budget"], "passed": False}})
    split_verdicts = _load(split, exit_code=1)
    assert split_verdicts["SC-004"].status == "PASS"
    assert split_verdicts["SC-010"].status == "FAIL" and "memory_below_budget" in split_verdicts["SC-010"].reason
    no_run = _verdicts([_record("SC-004", "passed", "load")])["SC-004"]
    assert no_run.status == "NOT RUN" and "load run did not run" in no_run.reason


# --- a person's sign-off --------------------------------------------------------------------------------------
def test_a_persons_sign_off_is_recorded_shown_and_goes_stale(tmp_path, monkeypatch):
    path = tmp_path / "signoffs.yaml"
    monkeypatch.setattr(signoff, "tree_fingerprint", lambda: NOW)
    signature = signoff.sign("US4-2", "pass", "kagent named the image and the load command", "Ada", path)
    assert signature.fingerprint == NOW and signoff.load(path)["US4-2"].who == "Ada"
    got = _verdicts([], signatures=signoff.load(path))
    assert got["US4-2"].status == "MANUAL" and "signed pass by Ada" in got["US4-2"].reason
    assert got["US4-1"].status == "MANUAL" and "awaiting a person" in got["US4-1"].reason
    assert "make signoff ID=US4-1" in got["US4-1"].command
    stale = report.build_rows([], Evidence(now={**NOW, "chart": "edited"}, bench=NO_BENCH,
                                           signatures=signoff.load(path)))
    assert {r.requirement.id: r.status for r in stale}["US4-2"] == "STALE"
    signoff.sign("US4-2", "fail", "kagent gave no fix", "Ada", path)
    assert _verdicts([], signatures=signoff.load(path))["US4-2"].status == "FAIL"


@pytest.mark.parametrize(("rid", "result", "note", "said"), [
    ("FR-001", "pass", "x", "ID='FR-001' is not a requirement a person signs off"),
    ("US4-2", "maybe", "x", "RESULT='maybe': say pass or fail"),
    ("US4-2", "pass", "  ", "NOTE is empty"),
    ("US4-2", "pass", "x" * 3000, "NOTE is 3000 characters"),
])
def test_a_bad_sign_off_is_refused_with_the_culprit_named(tmp_path, rid, result, note, said):
    path = tmp_path / "signoffs.yaml"
    with pytest.raises(signoff.SignoffError, match=said.replace("(", r"\(").replace(")", r"\)")):
        signoff.sign(rid, result, note, "Ada", path)
    assert not path.exists()  # nothing half-written


# --- one table of tiers ---------------------------------------------------------------------------------------------
def _marker_expression(stage: acceptance.Stage) -> str:
    return stage.argv[len(stage.argv) - 1 - stage.argv[::-1].index("-m") + 1]


def _selects(expression: str, markers: set[str]) -> bool:
    return Expression.compile(expression).evaluate(lambda name: name in markers)


def test_every_tier_runs_in_exactly_one_stage_selected_by_a_computed_expression():
    selections = tiers.stage_selections()
    for tier in tiers.TIERS:
        assert [stage for stage, expr in selections.items() if _selects(expr, {tier})] == [tiers.TIERS[tier].stage]
    assert _selects(selections["static"], {"static", "harness"}) and not _selects(selections["static"], {"cluster"})
    # A checker's self-test in a tier's folder runs in that tier's stage only, not in static's too.
    assert [stage for stage, expr in selections.items() if _selects(expr, {"cluster", "harness"})] == ["cluster"]


def test_a_test_of_two_tiers_is_refused(pytester: pytest.Pytester):
    pytester.makeconftest(RESULTS_CONFTEST)
    pytester.makepyfile(test_probe='import pytest\n@pytest.mark.static\n@pytest.mark.cluster\n'
                                   '@pytest.mark.requirement("FR-005")\ndef test_x():\n    pass\n')
    # Outside verification/ the rule does not apply (the applications' own tests): make it apply.
    pytester.makeconftest(RESULTS_CONFTEST + "import verification.plugin as p, pathlib\n"
                          "p.VERIFICATION_DIR = pathlib.Path(__file__).parent\n")
    (pytester.path / "sub").mkdir()
    (pytester.path / "test_probe.py").rename(pytester.path / "sub" / "test_probe.py")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*one tier per test (has static, cluster)*"])


def test_a_new_tier_is_one_row_and_its_tests_land_in_its_own_stage(monkeypatch):
    smoke = tiers.Tier("smoke", "a dummy tier", "smoke", (), ("cluster",), "make smoke", "smoke", ("--cluster={cluster}",))
    monkeypatch.setitem(tiers.TIERS, "smoke", smoke)
    assert tiers.tier_of_folder("smoke") == "smoke"
    assert tiers.proves("cluster", "smoke") and "smoke" in tiers.accepted_tiers("cluster")
    stages = {stage.name: stage for stage in acceptance.stages("local")}
    assert stages["smoke"].pytest and _selects(_marker_expression(stages["smoke"]), {"smoke"})
    assert [name for name, stage in stages.items()
            if stage.pytest and "-m" in stage.argv[3:] and _selects(_marker_expression(stage), {"smoke"})] == ["smoke"]
    assert "--cluster=local" in stages["smoke"].argv and "cluster" in stages["smoke"].proves
    static_expr = _marker_expression(stages["static"])
    assert not _selects(static_expr, {"smoke"})  # no longer counted as static by a hand-typed "not (…)"


def test_a_new_tier_gets_its_marker_and_folder_in_the_plugin(pytester: pytest.Pytester, monkeypatch):
    pytester.makeconftest(
        "from verification import tiers\n"
        "tiers.TIERS['smoke'] = tiers.Tier('smoke', 'a dummy tier', 'smoke', (), ('cluster',), 'make smoke', 'smoke')\n"
        "import verification.plugin as plugin\n"
        "plugin.VERIFICATION_DIR = __import__('pathlib').Path(__file__).parent / 'verification'\n"
        'pytest_plugins = ["verification.plugin"]\n')
    folder = pytester.mkpydir("verification")
    (folder / "smoke").mkdir()
    (folder / "smoke" / "test_s.py").write_text('import pytest\n@pytest.mark.requirement("US1-1")\ndef test_s():\n    pass\n')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-m", "smoke", "verification")
    result.assert_outcomes(passed=1)


# --- seeded defects: a surviving mutant makes a PASS WEAK ---------------------------------------------------
def test_a_surviving_mutant_makes_a_passing_id_weak_and_fails_the_sign_off():
    records = [_record("FR-011", "passed", "static"), _record("FR-005", "passed", "static")]
    mutants = {"FR-011": {"killed": 3, "total": 4, "survivors": [
                   {"id": "svc-port-9090", "diff": "- port: 8000\n+ port: 9090", "why": "the UI cannot reach the API"}]},
               "FR-005": {"killed": 2, "total": 3, "survivors": [], "accepted": [
                   {"id": "pool-size-4", "diff": "d", "why": "w", "accepted": "the pool size is tuning, not behaviour"}]}}
    got = _verdicts(records, mutants=mutants)
    assert got["FR-011"].status == "WEAK" and "mutants killed 3/4: svc-port-9090 survived" in got["FR-011"].reason
    assert got["FR-011"].command == "make mutate ONLY=svc-port-9090"
    # An accepted survivor does not weaken the ID; the verdict says it and why.
    assert got["FR-005"].status == "PASS" and "mutants killed 2/3" in got["FR-005"].reason
    assert "accepted survivor pool-size-4: the pool size is tuning" in got["FR-005"].reason
    assert not sign_off_verdict(list(got.values()), [], {"cluster": "none here"}).signed


def test_only_a_mutation_report_of_this_tree_counts(raw, monkeypatch):
    from harness.mutation import report as mutation

    path = raw.parent / report.MUTATION_REPORT
    path.write_text(json.dumps({"fingerprint": {**NOW, "chart": "old"}, "scores": {"requirements": {
        "FR-011": {"killed": 0, "total": 1, "survivors": [{"id": "m", "diff": "d", "why": "w"}]}}}}))
    assert mutation.fingerprint(path) is not None
    assert report.current_mutants(NOW) is None  # measured another chart
    path.write_text(json.dumps({"fingerprint": NOW, "scores": {"requirements": {
        "FR-011": {"killed": 0, "total": 1, "survivors": [{"id": "m", "diff": "d", "why": "w"}]}}}}))
    assert report.current_mutants(NOW)["FR-011"]["survivors"][0]["id"] == "m"
