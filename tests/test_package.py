"""A real package: it installs from a wheel anywhere, and its lock files agree with pyproject.

The wheel is built from a copy of the sources (as `pip install <clone>` would), installed into
a fresh virtual environment and served from a folder outside the repository. That environment
gets its dependencies offline: the runtime packages of the lock, already installed in this
venv, are laid beside it as a folder of links (only those, none of the dev tools), so pip
resolves the wheel's requirements against exactly the locked runtime set and nothing is
downloaded.

The lock check reads pyproject.toml and the three lock files and, from the installed packages'
own metadata, the closure of each set's requirements: a lock that misses a package, keeps one
nothing needs, or pins a version pyproject.toml excludes fails here (`make lock` mends it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import serve, stop_server
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {name: ROOT / "requirements" / f"{name}.txt" for name in ("run", "build", "dev")}
SOURCES = ("pyproject.toml", "README.md", "app", "engine", "static", "templates", "vendor")
DATA_FOLDERS = ("static", "templates", "vendor")
# A fixed time: the wheel's files carry it instead of the checkout's, so builds compare.
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, as in the Dockerfile


# ---- the lock files -------------------------------------------------------------------------

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def read_lock(path: Path) -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of hashes)} of a pip-compile --generate-hashes file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def requirement_sets() -> dict[str, list[Requirement]]:
    project = PYPROJECT["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    return {"run": runtime, "build": build, "dev": runtime + build + dev}


def closure(requirements: list[Requirement], python: dict[str, str] | None = None,
            ) -> tuple[dict[str, str], list[str]]:
    """({name: installed version}, problems) of everything the requirements need, walked
    through the installed distributions' own Requires-Dist (markers and extras applied, for
    this interpreter or for the ``python`` marker values given)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    queue = [(r, "pyproject.toml") for r in requirements]
    while queue:
        requirement, needed_by = queue.pop()
        name = canonicalize_name(requirement.name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} (needed by {needed_by}) is not installed")
            continue
        if not requirement.specifier.contains(dist.version, prereleases=True):
            problems.append(f"{name} {dist.version} does not satisfy {requirement} "
                            f"(needed by {needed_by})")
        extras = set(requirement.extras)
        if name in found and not extras:
            continue
        found[name] = dist.version
        for text in dist.requires or []:
            child = Requirement(text)
            envs = [{**default_environment(), **(python or {}), "extra": e}
                    for e in sorted(extras) or [""]]
            if child.marker is None or any(child.marker.evaluate(env) for env in envs):
                queue.append((child, name))
    return found, problems


def test_every_lock_pins_each_package_with_hashes_and_holds_no_torch():
    for path in LOCKS.values():
        pins = read_lock(path)
        assert pins, f"{path} pins nothing"
        for package, (version, hashes) in pins.items():
            assert hashes >= 1, f"{path}: {package}=={version} has no --hash"
            assert not package.startswith(("torch", "nvidia-")), (
                f"{path} pins {package}: torch belongs to TORCH_PYTHON's interpreter only")


def test_the_build_and_dev_locks_keep_the_runtime_pins():
    runtime = read_lock(LOCKS["run"])
    for name in ("build", "dev"):
        for package, (version, _) in read_lock(LOCKS[name]).items():
            if package in runtime:
                assert version == runtime[package][0], f"{name}.txt: {package} {version}"


def test_this_venv_holds_exactly_the_dev_lock():
    """The closure check below reads the installed metadata, so it must be the lock's."""
    for package, (version, _) in read_lock(LOCKS["dev"]).items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = None
        assert installed == version, (
            f"{package}: the venv has {installed}, requirements/dev.txt pins {version}; "
            f"run `make test` (it reinstalls from the lock)")


@pytest.mark.parametrize("name", list(LOCKS))
def test_lock_is_exactly_what_pyproject_requires(name):
    wanted, problems = closure(requirement_sets()[name])
    pins = read_lock(LOCKS[name])
    missing = sorted(set(wanted) - set(pins))
    stale = sorted(set(pins) - set(wanted))
    mend = "pyproject.toml and requirements/ disagree: run `make lock`"
    assert not problems, f"{mend}:\n  " + "\n  ".join(problems)
    assert not missing, f"{mend}: requirements/{name}.txt lacks {missing}"
    assert not stale, f"{mend}: requirements/{name}.txt pins {stale}, which nothing requires"


# The image's Python: Debian bookworm's python3 (the Dockerfile installs it from the release).
IMAGE_PYTHON = {"python_version": "3.11", "python_full_version": "3.11.2"}


def test_the_run_lock_holds_what_the_images_python_needs():
    # pip-compile runs on the developer's Python and leaves out what only an older one needs
    # (redis wants async-timeout below 3.11.3): the image's hashed install then refused redis
    wanted, problems = closure(requirement_sets()["run"], IMAGE_PYTHON)
    assert problems == []
    assert sorted(set(wanted) - set(read_lock(LOCKS["run"]))) == []


# ---- the wheel ------------------------------------------------------------------------------


def copy_sources(target: Path) -> Path:
    """The files `pip install <clone>` builds from, copied with fresh timestamps."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, copy_function=shutil.copy)
        else:
            shutil.copy(source, target / name)
    return target


def build_wheel(sources: Path, out: Path) -> Path:
    """pip wheel with this venv's locked setuptools (no build isolation: nothing downloaded)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(sources)],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (wheel,) = out.glob("bptt_studio-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    return build_wheel(copy_sources(base / "src"), base / "dist")


def test_wheel_installs_one_import_name_and_no_top_level_app_or_engine(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"bptt_studio", f"{wheel.name.split('-')[0]}-"
                                   f"{wheel.name.split('-')[1]}.dist-info"}, tops
    record = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    recorded = {line.split(",")[0].split("/")[0] for line in record.splitlines()}
    assert "app" not in recorded and "engine" not in recorded


def test_wheel_carries_every_file_of_the_page_and_of_vendor(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in DATA_FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                inside = f"bptt_studio/{path.relative_to(ROOT).as_posix()}"
                assert inside in names, f"{inside} is not in the wheel"
    # every file of the two packages, their folders and data (the bug catalogue's texts) too
    for folder, inside in (("app", "bptt_studio"), ("engine", "bptt_studio/engine")):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                name = f"{inside}/{path.relative_to(ROOT / folder).as_posix()}"
                assert name in names, f"{name} is not in the wheel"


def test_wheel_builds_byte_for_byte_the_same_twice(wheel, tmp_path):
    again = build_wheel(copy_sources(tmp_path / "src"), tmp_path / "dist")
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(
        wheel.read_bytes()).digest()


def test_wheel_requires_what_pyproject_says(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    meta = zipfile.ZipFile(wheel).read(next(n for n in names
                                            if n.endswith(".dist-info/METADATA"))).decode()
    requires = {Requirement(line.split(":", 1)[1].strip()).name
                for line in meta.splitlines() if line.startswith("Requires-Dist:")
                and "extra ==" not in line}
    assert requires == {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}


# ---- installed into a fresh venv, used from another folder ----------------------------------


def runtime_site(folder: Path, packages: list[str] | None = None) -> Path:
    """A folder of links to the locked runtime packages installed in this venv (or to the
    packages named), and nothing else: what a fresh `pip install` of the runtime lock would put
    in site-packages."""
    folder.mkdir()
    for package in packages or list(read_lock(LOCKS["run"])):
        dist = metadata.distribution(package)
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not top.startswith("..") and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder


def install(wheel: Path, base: Path, packages: list[str] | None = None,
            extras: str = "") -> Path:
    """A fresh venv (no pip of its own) with the wheel installed (with ``extras``, e.g.
    "[notebook]") over links to the runtime lock (or ``packages``); returns its bin folder."""
    venv.EnvBuilder(with_pip=False).create(base / "venv")
    site = next((base / "venv" / "lib").glob("python3*/site-packages"))
    (site / "_bptt_runtime_lock.pth").write_text(
        str(runtime_site(base / "runtime", packages)) + "\n")
    python = base / "venv" / "bin" / "python"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         f"{wheel}{extras}"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return python.parent


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(wheel, tmp_path_factory.mktemp("installed"))


@pytest.fixture(scope="module")
def installed_notebook(wheel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install "bptt-studio[notebook]"`: the runtime lock and the notebook extra's
    packages (as this venv holds them), the wheel installed with its extra."""
    extra = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["notebook"]]
    found, problems = closure(extra)
    assert not problems, problems
    packages = sorted(set(read_lock(LOCKS["run"])) | set(found))
    return install(wheel, tmp_path_factory.mktemp("installed-notebook"), packages,
                   "[notebook]")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder far from the repository, holding an engine.py and an app.py of its own (a
    notebook folder's modules must not shadow the package, nor be shadowed by it)."""
    (tmp_path / "engine.py").write_text("raise ImportError('the folder engine.py was imported')\n")
    (tmp_path / "app.py").write_text("raise ImportError('the folder app.py was imported')\n")
    return tmp_path


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_site_packages_gains_bptt_studio_and_no_app_or_engine(installed):
    site = next((installed.parent / "lib").glob("python3*/site-packages"))
    own = {p.name for p in site.iterdir()} - {"_bptt_runtime_lock.pth"}
    assert "bptt_studio" in own
    assert not own & {"app", "engine", "app.py", "engine.py", "static", "templates", "vendor"}


def test_installed_package_is_imported_from_site_packages_not_the_folder(installed, elsewhere):
    run = subprocess.run(
        [str(installed / "python"), "-c",
         "import bptt_studio, bptt_studio.engine, bptt_studio.core.paths as p; "
         "print(bptt_studio.__file__); print(p.STATIC_DIR); print(bptt_studio.__version__)"],
        cwd=elsewhere, env=clean_env(), capture_output=True, text=True, timeout=120,
        check=False)
    assert run.returncode == 0, run.stderr
    module, static, version = run.stdout.split()
    site = str(installed.parent / "lib")
    assert module.startswith(site) and static.startswith(site)
    assert version == PYPROJECT["project"]["version"]


@pytest.fixture(scope="module")
def served(installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bptt-studio serve` of the installed wheel, started from an unrelated folder."""
    folder = tmp_path_factory.mktemp("served-from")
    log = folder / "serve.log"
    with log.open("wb") as output:
        try:
            proc, base = serve(installed / "bptt-studio", env=clean_env(), cwd=folder,
                               timeout_s=60, output=output)
        except RuntimeError as error:
            pytest.fail(f"bptt-studio serve of the wheel: {error}\n{log.read_text()}")
    try:
        yield base
    finally:
        stop_server(proc)


def get(url: str, data: bytes | None = None) -> tuple[int, str, bytes]:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_installed_serve_answers_the_page(served):
    status, kind, body = get(served + "/")
    assert status == 200 and kind.startswith("text/html")
    assert b"BPTT Studio" in body


def test_installed_serve_answers_the_pages_modules_and_styles(served):
    _, _, page = get(served + "/")
    # url_for writes absolute URLs: keep their paths
    assets = set(re.findall(r'(?:src|href)="(?:http://[^/"]+)?(/static/[^"?#]+)', page.decode()))
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for path in sorted(assets):
        status, kind, body = get(served + path)
        assert status == 200 and body, path
        if path.endswith(".js"):
            assert "javascript" in kind, (path, kind)
    status, kind, body = get(served + "/static/js/i18n/pt-BR.js")  # a module imported later
    assert status == 200 and "javascript" in kind


def test_installed_serve_answers_plotly_js(served):
    status, kind, body = get(served + "/vendor/plotly.min.js")
    assert status == 200 and "javascript" in kind
    assert body.startswith(b"/**\n* plotly.js") and len(body) > 1_000_000


def test_installed_serve_answers_the_api(served):
    status, kind, body = get(served + "/api/v1/trace", b'{"cell": "gru", "hidden_size": 3}')
    assert status == 200 and kind.startswith("application/json")
    trace = json.loads(body)
    assert trace["config"]["cell"] == "gru" and trace["events"][0]["kind"] == "forward"
    status, kind, body = get(served + "/api/v1/export/torch", b"{}")
    assert status == 200 and kind.startswith("text/x-python")
    status, _, body = get(served + "/docs")
    assert status == 200 and b"static-offline-docs" in body


def readme_section(title: str, page: str = "docs/API.md") -> str:
    """The indented code blocks of one section of the manual, as one program."""
    text = (ROOT / page).read_text()
    section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    code = [line for line in section.splitlines() if line.startswith("    ") or not line.strip()]
    blocks = "\n".join(line if line.startswith("    ") else "" for line in code)
    return textwrap.dedent(blocks)


def test_readme_notebook_example_runs_outside_the_repository(installed, elsewhere):
    program = readme_section("From Python: the engine without a server")
    assert "bptt_studio.engine" in program and "to_data" in program
    run = subprocess.run([str(installed / "python"), "-c", program], cwd=elsewhere,
                         env=clean_env(), capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip(), "the example printed nothing"


def test_wheel_offers_the_notebook_extra_with_anywidget(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    meta = zipfile.ZipFile(wheel).read(next(n for n in names
                                            if n.endswith(".dist-info/METADATA"))).decode()
    assert "Provides-Extra: notebook" in meta.splitlines()
    extra = {Requirement(line.split(":", 1)[1].strip()).name for line in meta.splitlines()
             if line.startswith("Requires-Dist:") and 'extra == "notebook"' in line}
    assert extra == {"anywidget"}


def test_installed_notebook_widget_carries_the_pages_modules_from_site_packages(
        installed_notebook, elsewhere):
    """The widget's JavaScript, style sheet and markup come from the installed package."""
    program = textwrap.dedent("""
        import json
        from bptt_studio.notebook import Studio
        from bptt_studio.notebook.widget import assets, JS_DIR
        w = Studio({"cell": "gru", "hidden_size": 2})
        w.event = 3
        paths = [p for p, _ in assets()["_modules"]]
        print(json.dumps({"dir": str(JS_DIR), "paths": paths, "event": w.current["kind"],
                          "esm": w._esm == (JS_DIR / "notebook" / "notebook.js").read_text(),
                          "markup": "id=\\"network\\"" in w._markup,
                          "styles": ":host" in w._styles}))
    """)
    run = subprocess.run([str(installed_notebook / "python"), "-c", program], cwd=elsewhere,
                         env=clean_env(), capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    shown = json.loads(run.stdout)
    assert shown["dir"].startswith(str(installed_notebook.parent / "lib"))
    assert {"notebook/notebook-view.js", "views/network.js", "views/equation.js",
            "views/heatmaps.js", "views/timeline.js", "i18n/ru.js"} <= set(shown["paths"])
    assert shown["markup"] and shown["styles"] and shown["event"] == "forward"
    assert shown["esm"]  # anywidget's entry: the installed static/js/notebook/notebook.js


def test_vendored_plotly_js_is_the_recorded_npm_release():
    from bptt_studio.core.paths import plotly_js_path

    record = json.loads((ROOT / "vendor" / "plotly.js.json").read_text())
    bundle = ROOT / "vendor" / record["file"]
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == record["sha256"], (
        "vendor/ was edited by hand: `make plotly-js` fetches the recorded release again")
    assert bundle.read_bytes().startswith(f"/**\n* plotly.js (cartesian - minified) "
                                          f"v{record['version']}\n".encode())
    assert plotly_js_path() == bundle.resolve()
