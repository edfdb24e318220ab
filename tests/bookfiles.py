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


GLUE_ROLE = re.compile(r"\{glue(?::text|:md|:figure|:any)?\}`([^`:]+)(?::[^`]*)?`")
