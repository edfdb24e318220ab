"""Helpers for the tests: where the book's files are and what they contain."""
from __future__ import annotations

import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(p for p in CHAPTERS.glob("*.ipynb"))
IGNORE_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP")
IGNORE_TAGS = ("nbval-ignore-output", "nbval-skip")


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every file named in _toc.yml (root included), as paths relative to the root, no suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def load(nb_path) -> dict:
    return json.loads(pathlib.Path(nb_path).read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def is_excused(cell: dict) -> bool:
    """True if nbval does not compare this cell's output."""
    tags = cell.get("metadata", {}).get("tags", [])
    return any(m in source(cell) for m in IGNORE_MARKERS) or any(t in tags for t in IGNORE_TAGS)


def repository_url() -> str:
    return config()["repository"]["url"].rstrip("/")


def colab_install_spec() -> str:
    """The pip requirement that the Colab set-up cell must install."""
    return f"seqlib @ git+{repository_url()}"


# A glue role: {glue:text}`key:format`, or {glue:text}`other_notebook.ipynb::key:format` for a
# number glued by another page. Groups: the notebook (or None), the key.
GLUE_ROLE = re.compile(r"\{glue(?::text|:md|:figure|:any)?\}`(?:([^`:]+\.ipynb)::)?([^`:]+)(?::[^`]*)?`")


def glued_keys(nb: dict) -> set[str]:
    """The names of every value a notebook's stored outputs glue."""
    return {out["metadata"]["scrapbook"]["name"] for c in code_cells(nb) for out in c.get("outputs", [])
            if "scrapbook" in out.get("metadata", {})}


def glue_problems(text: str, page, own: set[str] | None = None) -> list[str]:
    """Glue roles in ``text`` (on the page ``page``) whose value no stored output provides.

    A key without a notebook must be among ``own`` (the page's own glued keys); a key
    ``nb.ipynb::key`` must be glued by that notebook, in the page's folder.
    """
    problems = []
    for notebook, key in GLUE_ROLE.findall(text):
        if notebook:
            path = page.parent / notebook
            if not path.exists():
                problems.append(f"{notebook}::{key} (no such notebook)")
            elif key not in glued_keys(load(path)):
                problems.append(f"{notebook}::{key} (not glued by {notebook})")
        elif own is None or key not in own:
            problems.append(f"{key} (not glued on this page)")
    return problems
