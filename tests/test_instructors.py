"""The instructor's guide agrees with the chapters: its map with their prerequisites, its table
with their run times and graders."""
import re

from bookfiles import CHAPTERS, NOTEBOOKS, load, source

GUIDE = CHAPTERS / "instructors.md"


def number(nb_path) -> int:
    return int(nb_path.name[:2])


# Every numbered chapter: the notebooks, and the chapters written as markdown pages (Chapter 12).
PAGES = sorted(NOTEBOOKS + list(CHAPTERS.glob("[0-9][0-9]_*.md")))


def prerequisites(nb_path) -> set[int]:
    """The chapters named in a chapter's Prerequisites box ("Chapter 3", "Chapters 3 (...), 5 and 6",
    "Chapters 7 to 11"). A markdown chapter without code may have no box, and then needs none."""
    if nb_path.suffix == ".md":
        prose = nb_path.read_text()
    else:
        prose = "".join(source(c) for c in load(nb_path)["cells"] if c["cell_type"] == "markdown")
    box = re.search(r"\{admonition\} Prerequisites\n(?::[a-z]+:[^\n]*\n)*(.*?)\n:::", prose, re.S)
    if box is None and nb_path.suffix == ".md":
        return set()
    assert box, f"{nb_path.name}: no Prerequisites box"
    text, found = box.group(1), set()
    for m in re.finditer(r"\bChapters?\s+", text):
        rest = text[m.end():]
        while True:
            n = re.match(r"(\d+)(?:\s+to\s+(\d+))?(?:'s)?(\s*\([^)]*\))?", rest)
            if not n:
                break
            first, last = int(n.group(1)), int(n.group(2) or n.group(1))
            found.update(range(first, last + 1))
            rest = rest[n.end():]
            sep = re.match(r",\s*(?:and\s+)?|\s+and\s+", rest)
            if not sep or not re.match(r"\d", rest[sep.end():]):
                break
            rest = rest[sep.end():]
    return found


def guide_edges() -> set[tuple[int, int]]:
    dot = re.search(r"```\{graphviz\}.*?digraph.*?\{(.*)\}\s*```", GUIDE.read_text(), re.S).group(1)
    return {(int(a), int(b)) for a, b in re.findall(r"\bc(\d+)\s*->\s*c(\d+)", dot)}


def test_prerequisites_are_parsed_as_a_reader_reads_them():
    by_number = {number(p): prerequisites(p) for p in NOTEBOOKS}
    assert by_number[1] == set()
    assert by_number[4] == {1, 3}
    assert {3, 5, 6} <= by_number[11]
    assert {7, 8, 9, 10, 11} <= by_number[13]


def test_the_chapter_map_draws_exactly_the_prerequisites():
    want = {(pre, number(p)) for p in PAGES for pre in prerequisites(p)}
    got = guide_edges()
    assert got == want, (f"the map in instructors.md and the chapters' Prerequisites disagree: "
                         f"missing {sorted(want - got)}, extra {sorted(got - want)}")
    nodes = set(re.findall(r"^\s*c(\d+)\s*\[label=", GUIDE.read_text(), re.M))
    assert {int(n) for n in nodes} == {number(p) for p in PAGES}, "every chapter, and only chapters, on the map"


def test_every_chapter_has_a_row_with_its_own_run_time_and_graders():
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| \{doc\}`([^`]+)` \|.*$", GUIDE.read_text(), re.M)}
    assert set(rows) == {p.stem for p in PAGES}, "one row per chapter"
    for nb in NOTEBOOKS:
        row = rows.get(nb.stem)
        assert row, f"instructors.md has no row for {nb.stem}"
        assert f"{{glue:text}}`{nb.name}::run_time_min" in row, f"{nb.stem}: its run time is not glued from itself"
        code = "".join(source(c) for c in load(nb)["cells"])
        used = set(re.findall(r"checks\.(check_\w+)", code))
        listed = set(re.findall(r"`(check_\w+)`", row))
        assert listed == used, f"{nb.stem}: the guide lists graders {listed}, the chapter uses {used}"
        assert used or "| none" in row, f"{nb.stem}: no grader in the chapter, and the guide does not say so"
