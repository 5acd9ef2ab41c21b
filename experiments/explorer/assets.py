"""Solara's front-end files, served by the explorer itself instead of a CDN (works offline).

Solara's server proxies the JavaScript and CSS its page needs (Vuetify app, grid layout, Font
Awesome, RequireJS, and ECharts for the explorer's plots) from a CDN and caches them in the
folder named by the environment variable SOLARA_ASSETS_PROXY_CACHE_DIR, laid out as
`<package>@<version>/<file>`. This script fills that folder from the npm registry (`npm pack`),
so the explorer never needs the CDN:

    .venv/bin/python experiments/fetch_assets.py [FOLDER]   # default: <venv>/solara-assets

It is idempotent (a package already unpacked is skipped) and writes each package under a
temporary name before renaming it, so an interrupted run leaves no half package. It first checks
that the installed solara asks for exactly these versions (a solara upgrade that asks for others
stops here with one line, instead of a page that silently waits for a CDN). `make app` and the
browser tests run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import solara.server.settings

#: In the virtual environment: its solara decides which versions are needed.
DEFAULT_FOLDER = Path(sys.prefix) / "solara-assets"

#: What solara 1.64's page and its ECharts component (the explorer's plots) load through its CDN
#: proxy. Not needed, so not fetched: vega (Altair charts) and katex and mermaid
#: (solara.Markdown), which the explorer does not use.
PACKAGES = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
    "echarts@5.4.0",
    "font-awesome@4.5.0",
    "requirejs@2.3.6",
)
#: Files of solara that name the packages its page loads from the CDN.
SOLARA_FILES = ("server/templates/solara.html.j2", "widgets/vue/gridlayout.vue")
#: solara's ECharts component names its version in a variable: `const version = "5.4.0";`.
ECHARTS_FILE = "components/echarts.vue"
#: Loaded only with ipyvue 3 (Vue 3), which Mesa 3.3.1's page cannot use (ipyvue is pinned to 1).
VUE3_ONLY = re.compile(r"vuetify3")


class AssetError(Exception):
    """The assets cannot be fetched; the message says why in one line."""


def wanted_by_solara() -> set[str]:
    """`name@version` of every package that the installed solara's page loads from the CDN."""
    base = Path(solara.__file__).resolve().parent
    wanted = set()
    for name in SOLARA_FILES:
        text = (base / name).read_text(encoding="utf-8")
        wanted |= set(re.findall(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/", text))
        wanted |= set(re.findall(r"`[^`]*?/((?:@[\w.-]+/)?[\w.-]+@\d[\w.-]*)/", text))
    fontawesome = solara.server.settings.assets.fontawesome_path.strip("/").split("/")[0]
    wanted.add(fontawesome)
    echarts = (base / ECHARTS_FILE).read_text(encoding="utf-8")
    wanted |= {f"echarts@{v}" for v in re.findall(r'const version = "([\w.-]+)"', echarts)}
    return {w for w in wanted if not VUE3_ONLY.search(w)}


def check_versions() -> None:
    """Refuse to go on when the installed solara asks for packages this script does not fetch."""
    missing = sorted(wanted_by_solara() - set(PACKAGES))
    if missing:
        raise AssetError(
            f"solara {solara.__version__} loads {', '.join(missing)}, which "
            "experiments/fetch_assets.py does not fetch: add it to PACKAGES"
        )


def is_complete(folder: Path, package: str) -> bool:
    return (folder / package / "package.json").is_file()


def fetch(folder: Path, package: str, npm: str) -> None:
    """`npm pack` the package and unpack it as `folder/<package>` (without npm's `package/`)."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        tmp_dir = Path(tmp)
        proc = subprocess.run(
            [npm, "pack", package, "--silent", "--pack-destination", str(tmp_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_dir,
        )
        tarballs = list(tmp_dir.glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            lines = [x for x in (proc.stderr or proc.stdout).splitlines() if x.strip()]
            reason = lines[-1] if lines else f"exit code {proc.returncode}"
            raise AssetError(f"npm pack {package} failed: {reason}")
        unpacked = tmp_dir / "unpacked"
        with tarfile.open(tarballs[0]) as tar:
            members = []
            for member in tar.getmembers():
                head, _, rest = member.name.partition("/")
                if head != "package" or not rest:
                    continue
                member.name = rest
                members.append(member)
            tar.extractall(unpacked, members=members, filter="data")
        if not (unpacked / "package.json").is_file():
            raise AssetError(f"npm pack {package}: the tarball has no package/package.json")
        target = folder / package
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # left incomplete by an older run
            shutil.rmtree(target)
        unpacked.rename(target)


def fill(folder: Path) -> list[str]:
    """Fetch every package missing from `folder`; the names fetched."""
    check_versions()
    folder.mkdir(parents=True, exist_ok=True)
    todo = [p for p in PACKAGES if not is_complete(folder, p)]
    if not todo:
        return []
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not installed (Debian: apt-get install npm); it fetches "
                         "the explorer's front-end files from the npm registry")  # fmt: skip
    for package in todo:
        fetch(folder, package, npm)
    return todo


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: fetch_assets.py [FOLDER]", file=sys.stderr)
        return 2
    folder = Path(argv[0]).resolve() if argv else DEFAULT_FOLDER
    try:
        fetched = fill(folder)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if fetched:
        print(f"solara assets: fetched {', '.join(fetched)} into {folder}")
    else:
        print(f"solara assets: all {len(PACKAGES)} packages already in {folder}")
    return 0


def serve(port: int, folder: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment that serve the explorer as `make app` does: solara on
    127.0.0.1:`port`, its front-end files from `folder` (offline), no telemetry."""
    env = {
        **os.environ,
        "SOLARA_ASSETS_PROXY_CACHE_DIR": str(folder),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        # solara warns in 13 lines at the first page that its cookie falls back to samesite=lax
        # on plain http, which is what a server on 127.0.0.1 wants
        "PYTHONWARNINGS": ",".join(
            filter(None, (os.environ.get("PYTHONWARNINGS"), "ignore:Cookies with samesite"))
        ),
    }
    solara = str(Path(sys.executable).with_name("solara"))
    command = [solara, "run", "experiments.explorer.page", "--host", "127.0.0.1",
               "--port", str(port), "--production", "--no-open"]  # fmt: skip
    return command, env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
