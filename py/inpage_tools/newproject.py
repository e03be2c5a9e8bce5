"""``inpage new NAME``: a new project folder that runs as it is: a page and its script using
``window.inpage`` on a picture and on the camera, a folder for page-side Python, one for models,
and a README of the three commands that follow."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from inpage.errors import ProjectError

from .bundle.files import make_folder

TEMPLATE = Path(__file__).resolve().parent / "templates" / "app"


def new_project(folder: Path) -> list[Path]:
    """Write the starter project into ``folder`` (which must not exist, or be empty); returns the files written."""
    folder = Path(folder)
    name = folder.resolve().name
    if not re.fullmatch(r"[\w.-]+", name):
        # Quoted as typed: '<b>x</b>' is a path whose last part is 'b>', which the user never wrote.
        raise ProjectError(f"{str(folder)!r} is not a usable project name; use letters, digits, '-', '_' or '.'")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ProjectError(f"{folder} already exists and is not empty; pick a new name, or empty it first")
    problem = make_folder(folder)
    if problem:
        raise ProjectError(f"cannot make the project folder {folder}: {problem}; pick another place for it")
    written = []
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        target = folder / source.relative_to(TEMPLATE)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix in (".html", ".md"):
            # The name is text: escaped in the page, never markup.
            value = html.escape(name) if source.suffix == ".html" else name
            target.write_text(source.read_text(encoding="utf-8").replace("{{name}}", value), encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        written.append(target)
    (folder / "models").mkdir(exist_ok=True)
    return written
