"""No stray folder in the clone can break the build: a second virtual environment, env/,
.tox/ and a data folder full of markdown (with broken links and citations) sit beside the
book, and the site still builds with every warning an error, reading only its own pages.

The build here copies the repository's tracked files (and the vendored JavaScript the
``site`` fixture wrote) into a temporary folder and runs Jupyter Book with the book's own
configuration, notebook execution off (which files are read does not depend on it).
"""

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _strays(root: Path) -> None:
    venv.create(root / "venv", with_pip=False)
    pkg = root / "venv" / "lib" / "python3.11" / "site-packages" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "README.md").write_text("# A package\n\nSee {cite}`nokey` and [x](nowhere.md)\n")
    (pkg / "LICENSE.rst").write_text("License\n=======\n\nText.\n")
    for folder in ("env", ".tox/py", "data/notes"):
        (root / folder).mkdir(parents=True)
        (root / folder / "README.md").write_text("# Stray\n\n[broken](nowhere.md)\n")
    (root / "data" / "notes" / "page.ipynb").write_text("{not a notebook")


def test_stray_folders_cannot_break_the_build(site, tmp_path):
    repo = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(ROOT / "book" / "_vendor", repo / "book" / "_vendor")
    _strays(repo)
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    # beside the book's own, since paths in it (local_extensions) are relative to it
    (repo / "book" / "_config_no_execution.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(jb), "build", ".", "--config",
                           "book/_config_no_execution.yml",
                           "--toc", "book/_toc.yml", "-W", "-n", "--keep-going"],
                          cwd=repo, capture_output=True, text=True)
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert done.returncode == 0, log[-4000:]
    read = set(re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)", log))
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    wanted = {toc["root"], *(c["file"] for c in toc["chapters"])}
    assert read == wanted
