"""The validator: every rule on a broken copy of one valid file, the CLI, and the optional checks."""

import dataclasses
import http.server
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import mindspore_hub as mshub

from mindspore_hub import code, repo, validate
from mindspore_hub.metadata import parse_text
from mindspore_hub.validate import Problem, main, validate_file, validate_paths

REPO = Path(__file__).resolve().parents[2]
RES = REPO / "mshub_res"
PROJECT_MD = RES / "assets" / "mindspore" / "ascend" / "1.3" / "ssdresnet50_v1.3_coco2017.md"
R13_PATH = "assets/mindspore/ascend/1.3/tinynet_v1.3_coco2017.md"
CURRENT_PATH = "assets/mindspore/1.9/tinynet_coco2017.md"
SHA = "ab" * 32

VALID = f"""\
# tinynet

---

model-name: tiny_net

backbone-name: tiny_net

module-type: cv-object_detection

fine-tunable: True

input-shape: [640, 640, 3]

model-version: v1.3

train-dataset: coco2017

accuracy: 32.7

author: MindSpore team

update-time: 2021-09-27

repo-link: <https://example.org/models/tiny_net>

user-id: MindSpore

used-for: inference/transfer-learning

train-backend: ascend

infer-backend: ascend/gpu

mindspore-version: v1.3

asset:

-
    file-format: ckpt
    asset-link: <https://example.org/files/tiny_net.ckpt>
    asset-sha256: {SHA}

license: Apache2.0

summary: tiny_net is used for cv

---

## Introduction

A file whose body has lines made of dashes:

---
--- still body
"""

ASSET = f"""\
-
    file-format: ckpt
    asset-link: <https://example.org/files/tiny_net.ckpt>
    asset-sha256: {SHA}
"""


def edit(old: str, new: str, text: str = VALID) -> str:
    """`text` with `old` replaced once; `old` must be there, so a fixture cannot silently stop applying."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, start: str, nth: int = 1) -> int:
    """1-based line of the `nth` line of `text` that starts with `start` (after indentation)."""
    numbers = [number for number, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start)]
    return numbers[nth - 1]


def write(tmp_path: Path, text: str, relative: str = R13_PATH) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors(problems):
    return [problem for problem in problems if problem.severity == "error"]


def test_project_metadata_is_valid_without_warnings():
    assert validate_paths([RES]) == []
    assert len(validate.find_markdown([RES])) == 2


def test_valid_fixture_has_no_problem(tmp_path):
    assert validate_file(write(tmp_path, VALID)) == []


def test_current_layout_does_not_require_r13_fields(tmp_path):
    text = edit("input-shape: [640, 640, 3]\n", "")
    text = edit("infer-backend: ascend/gpu\n", "", text)
    text = edit("mindspore-version: v1.3", "mindspore-version: 1.9", text)
    assert validate_file(write(tmp_path, text, CURRENT_PATH)) == []
    r13 = errors(validate_file(write(tmp_path, edit("mindspore-version: 1.9", "mindspore-version: v1.3", text))))
    assert {(problem.field, problem.line) for problem in r13} == {("input-shape", 3), ("infer-backend", 3)}


# (id, old, new, field, the start of the line the problem must point at, which occurrence)
BROKEN = [
    ("missing-r13-field", "input-shape: [640, 640, 3]\n", "", "input-shape", "---", 1),
    ("missing-field", "license: Apache2.0\n", "", "license", "---", 1),
    ("empty-field", "author: MindSpore team", "author:", "author", "author:", 1),
    ("module-type", "module-type: cv-object_detection", "module-type: vision", "module-type", "module-type:", 1),
    ("used-for", "used-for: inference/transfer-learning", "used-for: inference/training", "used-for",
     "used-for:", 1),
    ("train-backend", "train-backend: ascend", "train-backend: ascend/tpu", "train-backend", "train-backend:", 1),
    ("infer-backend", "infer-backend: ascend/gpu", "infer-backend: npu", "infer-backend", "infer-backend:", 1),
    ("boolean", "fine-tunable: True", "fine-tunable: perhaps", "fine-tunable", "fine-tunable:", 1),
    ("quoted-boolean", "fine-tunable: True", "fine-tunable: 'True'", "fine-tunable", "fine-tunable:", 1),
    ("accuracy", "accuracy: 32.7", "accuracy: good", "accuracy", "accuracy:", 1),
    ("input-shape", "input-shape: [640, 640, 3]", "input-shape: 640x640", "input-shape", "input-shape:", 1),
    ("repo-link-http", "<https://example.org/models/tiny_net>", "<http://example.org/models/tiny_net>",
     "repo-link", "repo-link:", 1),
    # the loader accepts plain http to loopback (tests, local mirrors); a published file may not use it
    ("repo-link-loopback-http", "<https://example.org/models/tiny_net>", "<http://127.0.0.1/models/tiny_net>",
     "repo-link", "repo-link:", 1),
    ("repo-link-dotdot", "<https://example.org/models/tiny_net>", "<https://example.org/o/r/tree/main/models/..>",
     "repo-link", "repo-link:", 1),
    ("repo-link-ref", "<https://example.org/models/tiny_net>", "<https://example.org/o/r/tree/--upload-pack=x/m>",
     "repo-link", "repo-link:", 1),
    ("asset-link-relative", "<https://example.org/files/tiny_net.ckpt>", "files/tiny_net.ckpt",
     "asset-link", "asset-link:", 1),
    ("asset-link-dotdot", "<https://example.org/files/tiny_net.ckpt>", "<https://example.org/a/../../b.ckpt>",
     "asset-link", "asset-link:", 1),
    ("asset-link-encoded-dotdot", "<https://example.org/files/tiny_net.ckpt>",
     "<https://example.org/a/%2e%2e/b.ckpt>", "asset-link", "asset-link:", 1),
    ("asset-link-no-file", "<https://example.org/files/tiny_net.ckpt>", "<https://example.org/files/>",
     "asset-link", "asset-link:", 1),
    ("asset-link-name-too-long", "<https://example.org/files/tiny_net.ckpt>",
     f"<https://example.org/files/{'n' * 245}.ckpt>", "asset-link", "asset-link:", 1),
    ("asset-link-cache-suffix", "<https://example.org/files/tiny_net.ckpt>",
     "<https://example.org/files/tiny_net.ckpt.part>", "asset-link", "asset-link:", 1),
    ("sha256-short", f"asset-sha256: {SHA}", "asset-sha256: f4208754", "asset-sha256", "asset-sha256:", 1),
    ("sha256-not-hex", f"asset-sha256: {SHA}", f"asset-sha256: {SHA[:-1]}g", "asset-sha256",
     "asset-sha256:", 1),
    ("sha256-missing", f"    asset-sha256: {SHA}\n", "", "asset-sha256", "file-format:", 1),
    ("file-format", "file-format: ckpt", "file-format: pth", "file-format", "file-format:", 1),
    ("extension", "file-format: ckpt", "file-format: mindir", "asset-link", "asset-link:", 1),
    ("no-assets", "asset:\n\n" + ASSET, "asset: []\n", "asset", "asset:", 1),
    ("yaml", "summary: tiny_net is used for cv", "summary: tiny_net: used for cv", "front-matter",
     "summary:", 1),
    ("not-a-list", ASSET, "    tiny_net.ckpt\n", "asset", "asset:", 1),
]

# Checks stricter than upstream's rules: warnings, errors with --strict.
STRICTER = [
    ("text-field", "train-dataset: coco2017", "train-dataset: [coco]", "train-dataset", "train-dataset:", 1),
    ("version", "model-version: v1.3", "model-version: latest", "model-version", "model-version:", 1),
    ("date", "update-time: 2021-09-27", "update-time: 27/09/2021", "update-time", "update-time:", 1),
    ("duplicate-asset", ASSET, ASSET + ASSET, "asset-link", "asset-link:", 2),
    ("publisher", "user-id: MindSpore", "user-id: SomeoneElse", "user-id", "user-id:", 1),
    ("backend", "train-backend: ascend", "train-backend: gpu", "train-backend", "train-backend:", 1),
    ("path-version", "mindspore-version: v1.3", "mindspore-version: v1.2", "mindspore-version",
     "mindspore-version:", 1),
    ("title", "# tinynet\n", "", "title", "", 1),
]


def variant(tmp_path, old, new, start, nth) -> tuple[Path, int]:
    """The valid fixture with one edit, written; and the line its problem must point at."""
    text = edit(old, new)
    return write(tmp_path, text), line_of(text, start, nth) if start else 1


@pytest.mark.parametrize("old, new, field, start, nth", [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_each_broken_variant_fails_at_its_field_and_line(tmp_path, old, new, field, start, nth):
    path, line = variant(tmp_path, old, new, start, nth)
    found = errors(validate_file(path))
    assert (field, line) in {(problem.field, problem.line) for problem in found}, [str(p) for p in found]
    assert any(str(problem).startswith(f"{path}:{line}: {field}: ") for problem in found)
    assert main([str(path)]) == 1


@pytest.mark.parametrize("old, new, field, start, nth", [case[1:] for case in STRICTER],
                         ids=[case[0] for case in STRICTER])
def test_checks_stricter_than_upstream_warn_and_fail_only_with_strict(tmp_path, old, new, field, start, nth):
    path, line = variant(tmp_path, old, new, start, nth)
    problems = validate_file(path)
    assert errors(problems) == [], [str(p) for p in problems]
    assert (field, line, "warning") in {(p.field, p.line, p.severity) for p in problems}
    assert main([str(path)]) == 0 and main(["--strict", str(path)]) == 1


@pytest.mark.parametrize("old, new", [
    ("module-type: cv-object_detection", "module-type: cv-super-resolution"),  # split at the first '-'
    ("module-type: cv-object_detection", "module-type: mm"),
    ("module-type: cv-object_detection", "module-type: cvtmodel"),
    ("update-time: 2021-09-27", "update-time: 2021-9-7"),
    ("train-dataset: coco2017\n", ""),
    ("license: Apache2.0", "license: Apache2.0\nevaluation: -"),
])
def test_what_upstream_accepts_is_accepted(tmp_path, old, new):
    assert validate_file(write(tmp_path, edit(old, new))) == []


def test_unknown_fields_are_only_warnings(tmp_path):
    text = edit("license: Apache2.0", "license: Apache2.0\n\ncolour: blue")
    text = edit("    file-format: ckpt", "    file-format: ckpt\n    mirror: none", text)
    path = write(tmp_path, text)
    problems = validate_file(path)
    assert {(p.field, p.line, p.severity) for p in problems} == {
        ("colour", line_of(text, "colour:"), "warning"), ("mirror", line_of(text, "mirror:"), "warning")}
    assert str(problems[0]).startswith(f"{path}:{problems[0].line}: mirror: warning: ")
    assert main([str(path)]) == 0


def test_version_1_10_stays_1_10(tmp_path):
    text = edit("mindspore-version: v1.3", "mindspore-version: 1.10")
    assert validate_file(write(tmp_path, text, "assets/mindspore/ascend/1.10/tinynet.md")) == []
    assert [(p.field, p.severity) for p in validate_file(write(tmp_path, text, "assets/mindspore/ascend/1.1/tinynet.md"))] \
        == [("mindspore-version", "warning")]


def test_files_outside_the_assets_layout_get_a_path_warning(tmp_path):
    problems = validate_file(write(tmp_path, VALID, "tinynet.md"))
    assert [(p.field, p.severity) for p in problems] == [("path", "warning")]


def test_directories_are_searched_and_readmes_skipped(tmp_path):
    write(tmp_path, VALID)
    broken = write(tmp_path, edit("module-type: cv-object_detection", "module-type: vision"),
                   "assets/mindspore/ascend/1.3/other.md")
    (tmp_path / "assets" / "README.md").write_text("# Assets\n\nNo front matter here.\n")
    (tmp_path / "assets" / "mindspore" / "notes.txt").write_text("not markdown\n")
    assert len(validate.find_markdown([tmp_path])) == 2
    problems = validate_paths([tmp_path])
    assert [(Path(p.path).name, p.field) for p in problems] == [(broken.name, "module-type")]


def test_exit_codes(tmp_path, capsys):
    valid = write(tmp_path, VALID)
    broken = write(tmp_path, edit("fine-tunable: True", "fine-tunable: 3"), "assets/mindspore/ascend/1.3/b.md")
    assert main([str(valid)]) == 0
    assert main([str(valid), str(broken)]) == 1
    assert main([str(valid), str(tmp_path / "missing.md")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main([str(valid), "--format", "xml"])
    assert caught.value.code == 2
    capsys.readouterr()


def test_text_output_is_one_line_a_problem_plus_a_summary(tmp_path, capsys):
    broken = write(tmp_path, edit("used-for: inference/transfer-learning", "used-for: x"))
    assert main([str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{broken}:{line_of(VALID, 'used-for:')}: used-for: 'x' not allowed; choose from "
                   "extract-feature, inference, transfer-learning", "1 file(s) checked: 1 error(s), 0 warning(s)"]


def test_json_output_parses(tmp_path, capsys):
    valid = write(tmp_path, VALID)
    broken = write(tmp_path, edit("used-for: inference/transfer-learning", "used-for: x"),
                   "assets/mindspore/ascend/1.3/b.md")
    assert main(["--format", "json", str(valid), str(broken)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 2, "errors": 1, "warnings": 0, "ok": False}
    assert report["problems"] == [{"path": str(broken), "line": line_of(VALID, "used-for:"),
                                   "field": "used-for", "message": report["problems"][0]["message"],
                                   "severity": "error"}]
    assert Problem(**report["problems"][0]).field == "used-for"


def run_module(*args):
    return subprocess.run([sys.executable, "-m", "mindspore_hub.validate", *args],
                          capture_output=True, text=True, timeout=120)


def test_python_dash_m_validates_the_project():
    result = run_module(str(RES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 file(s) checked: 0 error(s)" in result.stdout


def test_python_dash_m_fails_on_a_broken_file(tmp_path):
    path = write(tmp_path, edit(f"asset-sha256: {SHA}", "asset-sha256: f4208754"))
    result = run_module(str(path), "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"][0]["field"] == "asset-sha256"


def mshub_command():
    script = shutil.which("mshub") or shutil.which("mshub", path=str(Path(sys.executable).parent))
    if script is None or importlib.util.find_spec("mindspore_hub.cli") is None:
        pytest.skip("the mshub console script (mindspore_hub.cli) is not installed")
    return script


def test_mshub_validate_command(tmp_path):
    script = mshub_command()
    ok = subprocess.run([script, "validate", str(RES)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = write(tmp_path, edit("module-type: cv-object_detection", "module-type: vision"))
    failed = subprocess.run([script, "validate", "--format", "json", str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["summary"]["errors"] == 1
    missing = subprocess.run([script, "validate", str(tmp_path / "nothing.md")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2


class _Handler(http.server.BaseHTTPRequestHandler):
    """/ok -> 200, /moved -> 302 to /ok, /nohead -> 405 to HEAD but 200 to GET, else 404."""

    def do_HEAD(self):
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
        else:
            self.send_response({"/ok": 200, "/nohead": 405}.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200 if self.path in ("/ok", "/nohead") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_check_links_reports_links_that_do_not_answer_2xx_or_3xx(server):
    text = edit("<https://example.org/models/tiny_net>", f"<{server}/moved>")
    text = edit(ASSET, ASSET.replace("https://example.org/files/tiny_net.ckpt", f"{server}/nohead")
                + ASSET.replace("https://example.org/files/tiny_net.ckpt", f"{server}/missing.ckpt"), text)
    problems = validate.link_problems(parse_text(text), "m.md", timeout=5)
    assert [(p.field, p.line) for p in problems] == [("asset-link", line_of(text, "asset-link:", 2))]
    assert "HTTP 404" in problems[0].message


def test_check_links_reports_unreachable_hosts():
    text = edit("<https://example.org/models/tiny_net>", "<http://127.0.0.1:9/closed>")
    info = dataclasses.replace(parse_text(text), assets=())
    problems = validate.link_problems(info, "m.md", timeout=2)
    assert [(p.field, p.line) for p in problems] == [("repo-link", line_of(text, "repo-link:"))]
    assert "cannot reach" in problems[0].message


def test_no_network_without_check_links(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the validator used the network without --check-links")

    monkeypatch.setattr(validate, "_head", no_network)
    assert main([str(write(tmp_path, VALID))]) == 0


TINY_ENTRY = """\
from mindspore import nn


def create_network(name, *args, **kwargs):
    if name == "not_a_cell":
        return object()
    if name != "tiny_net":
        raise ValueError(f"unknown network {name}")
    return nn.Dense(1, 1)
"""


@pytest.fixture
def tiny_entry(tmp_path):
    """A hub_conf.py beside the files `write` puts at R13_PATH: a local entry, as the loader finds it."""
    folder = (tmp_path / R13_PATH).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hub_conf.py").write_text(TINY_ENTRY)


def test_check_entry_accepts_a_network_its_entry_builds(tmp_path, tiny_entry):
    path = write(tmp_path, VALID)
    assert validate_file(path, check_entry=True) == []
    assert main(["--check-entry", str(path)]) == 0


def test_check_entry_passes_the_model_name_in_lower_case_as_the_loader_does(tmp_path, tiny_entry):
    path = write(tmp_path, edit("model-name: tiny_net", "model-name: Tiny_Net"))
    assert validate_file(path, check_entry=True) == []


@pytest.mark.parametrize("name, words", [("broken_net", "ValueError: unknown network broken_net"),
                                         ("not_a_cell", "returned object, not an nn.Cell")])
def test_check_entry_reports_entries_that_fail_or_build_no_network(tmp_path, tiny_entry, name, words):
    text = edit("model-name: tiny_net", f"model-name: {name}")
    path = write(tmp_path, text)
    assert validate_file(path) == []
    problems = validate_file(path, check_entry=True)
    assert [(p.field, p.line) for p in problems] == [("model-name", line_of(text, "model-name:"))]
    assert words in problems[0].message
    assert main(["--check-entry", str(path)]) == 1


def installed_tiny_net(name, *args, **kwargs):
    from mindspore import nn

    return nn.Dense(1, 1) if name == "tiny_net" else None


def test_check_entry_uses_an_installed_entry_point_first(tmp_path, monkeypatch):
    fake = EntryPoint("tiny_net", f"{__name__}:installed_tiny_net", code.ENTRY_GROUP)
    monkeypatch.setattr(code.importlib.metadata, "entry_points",
                        lambda group: [fake] if group == code.ENTRY_GROUP else [])
    assert validate_file(write(tmp_path, VALID), check_entry=True) == []


def test_check_entry_never_runs_code_from_a_repo_link(tmp_path, monkeypatch):
    monkeypatch.setenv("MSHUB_TRUST_REPO", "1")  # even when the user trusts every repository
    monkeypatch.setattr(repo, "fetch_folder", lambda *args: pytest.fail("remote code was fetched"))
    path = write(tmp_path, VALID)  # no hub_conf.py beside it, no installed entry: only its repo-link
    problems = validate_file(path, check_entry=True)
    assert [(p.field, p.line, p.severity) for p in problems] == [("repo-link", line_of(VALID, "repo-link:"), "warning")]
    assert "not checked: untrusted" in problems[0].message
    assert main(["--check-entry", str(path)]) == 0


def test_real_entry_builds_the_project_network():
    try:
        import ssd_resnet50.model  # noqa: F401
    except ImportError as error:
        pytest.skip(f"ssd_resnet50.model is not importable yet: {error}")
    assert code.installed_entry("ssd_resnet50") is not None, "entry point not registered: reinstall with pip -e"
    assert validate_file(PROJECT_MD, check_entry=True) == []


def test_check_links_is_refused_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    monkeypatch.setattr(validate, "_head", lambda *args: pytest.fail("a request was sent offline"))
    assert main(["--check-links", str(write(tmp_path, VALID))]) == 2
    assert "MSHUB_OFFLINE=1" in capsys.readouterr().err


def test_check_links_applies_the_loader_url_policy(monkeypatch):
    asked = []
    monkeypatch.setattr(validate, "_head", lambda url, timeout: asked.append(url) or 200)
    text = edit("<https://example.org/models/tiny_net>", "<http://example.org/models/tiny_net>")
    problems = validate.link_problems(parse_text(text), "m.md")
    assert asked == ["https://example.org/files/tiny_net.ckpt"]  # the plain-http link was not requested
    assert [(p.field, p.line) for p in problems] == [("repo-link", line_of(text, "repo-link:"))]
    assert "not checked" in problems[0].message and "MSHUB_ALLOW_HTTP" in problems[0].message


def test_check_links_option_asks_every_link(tmp_path, monkeypatch, capsys):
    asked = []

    def head(url, timeout):
        asked.append((url, timeout))
        return 404 if url.endswith(".ckpt") else 200

    monkeypatch.setattr(validate, "_head", head)
    path = write(tmp_path, VALID)
    assert main(["--check-links", "--timeout", "3", str(path)]) == 1
    assert asked == [("https://example.org/models/tiny_net", 3.0), ("https://example.org/files/tiny_net.ckpt", 3.0)]
    assert f"{path}:{line_of(VALID, 'asset-link:')}: asset-link: " in capsys.readouterr().out


CARDS = Path(__file__).parent / "cards"


def test_false_alarm_cards_get_no_error_and_each_defect_card_one(capsys):
    """Fixture cards written from the issue's list: one a false-alarm kind (upstream reads them), one a real defect."""
    assert main(["--format", "json", str(CARDS / "false_alarms")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 9, "errors": 0, "warnings": 1, "ok": True}
    assert [(Path(p["path"]).name, p["field"]) for p in report["problems"]] == [("no_asset.md", "asset")]
    assert main(["--strict", str(CARDS / "false_alarms")]) == 1
    capsys.readouterr()

    assert main(["--format", "json", str(CARDS / "defects")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 5, "errors": 5, "warnings": 0, "ok": False}
    assert sorted((Path(p["path"]).stem, p["field"]) for p in report["problems"]) == [
        ("broken_yaml", "front-matter"), ("duplicate_field", "author"), ("empty_repo_link", "repo-link"),
        ("sha256_8_hex", "asset-sha256"), ("tar_gz_as_ckpt", "asset-link")]


def test_a_chinese_card_is_read_through_its_english_twin(tmp_path):
    from mindspore_hub.info import CellInfo

    chinese = CARDS / "false_alarms" / "assets" / "mindspore" / "2.0" / "chinese_keys_cn.md"
    assert validate_file(chinese) == []
    assert CellInfo(chinese).name == "lenet"
    assert mshub.info(chinese).path == str(chinese.with_name("chinese_keys.md"))
    alone = tmp_path / "assets" / "mindspore" / "2.0" / "x_cn.md"
    alone.parent.mkdir(parents=True)
    alone.write_text(chinese.read_text(encoding="utf-8"), encoding="utf-8")
    assert errors(validate_file(alone))  # no twin: its own Chinese keys are checked, and miss every field
