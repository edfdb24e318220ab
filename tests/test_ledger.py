"""Chapter 12's ledger of verdicts agrees with the chapters that measured them.

The ledger (chapters/12_claims_on_trial.md) is a set of MyST pipe tables, one row per claim:
claim | verdict | evidence | rests on | full-scale answer. These tests parse it and check that
every verdict is one of four, that measured evidence links to a claim box that exists and says the
same, that every number in the evidence is glued from a notebook's stored output, that "rests on"
names one of four kinds of evidence (and a stored sweep only where the chapter loads one), and that
every claim box of the book appears in the ledger.
"""
from __future__ import annotations

import re

import pytest

from bookfiles import CHAPTERS, NOTEBOOKS, glue_problems, load, source

PAGE = CHAPTERS / "12_claims_on_trial.md"
VERDICTS = {"holds", "does not hold", "depends", "outdated"}
CLASS_TO_VERDICT = {"tip": "holds", "danger": "does not hold", "warning": "depends", "note": "outdated"}
LITERATURE = "From the literature, not measured here."
# What a verdict rests on: the kinds of evidence, as the "rests on" column starts.
RESTS_ON = ("a stored sweep: ", "live training at a short budget: ", "a measurement, no training", "the literature")

# A claim box in a chapter notebook: its class and label, and whether its verdict is pending.
BOX = re.compile(r"(:{3,})\{admonition\} Claim[^\n]*\n:class: claim (\w+)\n(?::name: (\S+)\n)?(.*?)\n\1\s*$",
                 re.S | re.M)
REF = re.compile(r"\{ref\}`(?:[^`<]*<([^>`]+)>|([^`<]+))`")
ROLE = re.compile(r"\{(?:glue(?::\w+)?|ref|cite(?::\w+)?|doc|eq|numref)\}`[^`]*`")
# Digits allowed outside roles: the number of a chapter, table, figure or section of a paper.
NAMED_NUMBER = re.compile(r"\b(?:Chapter|Chapters|Table|Tables|Figure|Figures|Section|Sections) "
                          r"\d+(?:\.\d+)*(?:(?: and |, )\d+(?:\.\d+)*)*")
VERDICT_CELL = re.compile(r"^\*\*([a-z ]+)\*\*$")


def claim_boxes() -> dict[str, dict]:
    """Every labelled claim box in the chapter notebooks: label -> class, pending, notebook."""
    boxes = {}
    for nb_path in NOTEBOOKS:
        for cell in load(nb_path)["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for _, cls, label, body in BOX.findall(source(cell)):
                if label:
                    assert label not in boxes, f"claim label {label} is used twice"
                    boxes[label] = {"class": cls, "pending": "Verdict: pending" in body, "notebook": nb_path.name,
                                    "loads_sweep": loads_sweep(nb_path)}
    return boxes


def loads_sweep(nb_path) -> bool:
    """Whether a chapter loads a stored sweep (seqlib.sweeps.load) in one of its code cells."""
    return any("sweeps.load(" in source(c) for c in load(nb_path)["cells"] if c["cell_type"] == "code")


def section_labels() -> set[str]:
    """Explicit MyST targets `(label)=` and directive labels in the notebooks."""
    labels = set()
    for nb_path in NOTEBOOKS:
        for cell in load(nb_path)["cells"]:
            if cell["cell_type"] == "markdown":
                text = source(cell)
                labels |= set(re.findall(r"^\(([^)\s]+)\)=", text, re.M))
                labels |= set(re.findall(r"^:(?:label|name): (\S+)", text, re.M))
    return labels


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every pipe table in ``text``, as lists of stripped cells."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [c.strip() for c in line[1:-1].split("|")]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            continue  # the delimiter row
        rows.append(cells)
    return [r for r in rows if not r[0].startswith("Claim (our words)") and r[0] != "What is said"]


def section(text: str, title: str) -> str:
    """The text of the level-2 section ``title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{PAGE.name} has no section '## {title}'"
    return match.group(1)


def ledger_rows(text: str) -> list[list[str]]:
    return table_rows(section(text, "The ledger"))


def stray_digits(evidence: str) -> list[str]:
    """Digits in ``evidence`` outside glue, ref, cite and doc roles (and outside 'Table N' etc.)."""
    rest = NAMED_NUMBER.sub("", ROLE.sub("", evidence))
    return re.findall(r"[^\s]*\d[^\s]*", rest)


def row_problems(row: list[str], boxes: dict[str, dict], sections: set[str]) -> list[str]:
    """What is wrong with one ledger row (an empty list if nothing)."""
    if len(row) != 5:
        return [f"row has {len(row)} cells, expected 5: {row[:1]}"]
    claim, verdict_cell, evidence, rests_on, answer = row
    problems = []
    if not rests_on.startswith(RESTS_ON):
        problems.append(f"'{claim}': 'rests on' must start with one of {RESTS_ON}, got {rests_on!r}")
    if re.search(r"\d", rests_on):
        problems.append(f"'{claim}': 'rests on' says its counts in words, got {rests_on!r}")
    if LITERATURE in evidence and rests_on != "the literature":
        problems.append(f"'{claim}': marked as literature, but rests on {rests_on!r}")
    match = VERDICT_CELL.match(verdict_cell)
    verdict = match.group(1) if match else None
    if verdict not in VERDICTS:
        problems.append(f"'{claim}': verdict {verdict_cell!r} is not one of {sorted(VERDICTS)} in bold")
    if "{cite" not in answer:
        problems.append(f"'{claim}': the full-scale answer cites no primary source")
    refs = [a or b for a, b in REF.findall(evidence)]
    if not refs:
        if LITERATURE not in evidence:
            problems.append(f"'{claim}': no link to the measurement and not marked '{LITERATURE}'")
    else:
        if LITERATURE in evidence:
            problems.append(f"'{claim}': marked as literature but links to a measurement")
        measured = []
        for label in refs:
            if label in boxes:
                box = boxes[label]
                if not box["pending"]:
                    measured.append(label)
                    expected = CLASS_TO_VERDICT[box["class"]]
                    if verdict in VERDICTS and verdict != expected:
                        problems.append(f"'{claim}': verdict '{verdict}' but {label} in {box['notebook']} "
                                        f"is a '{box['class']}' box ({expected})")
                    if rests_on.startswith("a stored sweep") and not box.get("loads_sweep", True):
                        problems.append(f"'{claim}': rests on a stored sweep, but {box['notebook']} loads none")
            elif label not in sections:
                problems.append(f"'{claim}': links to {label}, which no chapter defines")
        if not measured:
            problems.append(f"'{claim}': links only to pending claim boxes, which are not evidence")
    digits = stray_digits(evidence)
    if digits:
        problems.append(f"'{claim}': numbers typed by hand in the evidence, not glued: {digits}")
    return problems


@pytest.fixture(scope="module")
def text():
    return PAGE.read_text()


@pytest.fixture(scope="module")
def boxes():
    return claim_boxes()


def test_the_ledger_has_rows_under_every_theme(text):
    ledger = section(text, "The ledger")
    themes = re.split(r"^### ", ledger, flags=re.M)[1:]
    assert len(themes) >= 5, f"expected the ledger grouped by theme, found {len(themes)} themes"
    for theme in themes:
        assert table_rows(theme), f"theme '{theme.splitlines()[0]}' has no rows"


def test_every_row_has_a_verdict_evidence_and_a_source(text, boxes):
    sections = section_labels()
    problems = [p for row in ledger_rows(text) for p in row_problems(row, boxes, sections)]
    assert not problems, "\n".join(problems)


def test_every_claim_box_in_the_book_is_in_the_ledger(text, boxes):
    assert len(boxes) > 40, f"found only {len(boxes)} claim boxes; is the box pattern out of date?"
    linked = {a or b for row in ledger_rows(text) for a, b in REF.findall(row[2])}
    missing = sorted(set(boxes) - linked)
    assert not missing, f"claim boxes the ledger does not list: {missing}"


def test_every_glued_figure_was_stored_by_the_notebook_that_computed_it(text):
    assert text.count("{glue:text}") > 50
    assert not glue_problems(text, PAGE), glue_problems(text, PAGE)


def test_every_correction_of_fact_cites_a_primary_source(text):
    rows = table_rows(section(text, "Errors of fact in the popular accounts"))
    assert len(rows) >= 8
    for said, right, src in rows:
        assert "{cite" in src, f"the correction of '{said}' cites no source"
        for label in (a or b for a, b in REF.findall(right)):
            assert label in claim_boxes(), f"the correction of '{said}' links to unknown {label}"


def test_the_page_glues_only_from_other_pages(text):
    """A markdown page stores nothing: every glue role names the notebook that stored the value."""
    for role in re.findall(r"\{glue(?::\w+)?\}`[^`]*`", text):
        assert ".ipynb::" in role, f"{role} does not say which notebook stored it"
        # myst-nb splits the format off at the last colon: `nb.ipynb::key` alone would lose the key.
        assert re.search(r"::[^`:]+:[^`]*`$", role), f"{role} needs a format part (an empty one is `key:`)"


# The checks must be able to fail: each bad row below is caught.
GOOD = ["A claim.", "**holds**", "Measured {glue:text}`02_x.ipynb::k:.0%`. {ref}`Chapter 2 <claim-a>`",
        "live training at a short budget: three seeds, eight epochs", "{cite}`key`"]
FAKE_BOXES = {"claim-a": {"class": "tip", "pending": False, "notebook": "02_x.ipynb", "loads_sweep": False},
              "claim-b": {"class": "danger", "pending": False, "notebook": "02_x.ipynb", "loads_sweep": False},
              "claim-p": {"class": "note", "pending": True, "notebook": "06_x.ipynb", "loads_sweep": False}}


def test_a_good_row_passes():
    assert row_problems(GOOD, FAKE_BOXES, set()) == []
    assert row_problems(["c", "**depends**", f"*{LITERATURE}* Table 2 of the paper.", "the literature",
                         "{cite}`k`"], FAKE_BOXES, set()) == []


@pytest.mark.parametrize("change, message", [
    ({1: "holds"}, "verdict"),
    ({1: "**mostly true**"}, "verdict"),
    ({1: "**does not hold**"}, "is a 'tip' box"),
    ({2: "Measured 75% here. {ref}`Chapter 2 <claim-a>`"}, "typed by hand"),
    ({2: "The GPT-3 run. {ref}`Chapter 2 <claim-a>`"}, "typed by hand"),
    ({2: "Measured {glue:text}`02_x.ipynb::k`. {ref}`Chapter 2 <claim-zzz>`"}, "no chapter defines"),
    ({2: "Measured {glue:text}`02_x.ipynb::k`."}, "not marked"),
    ({2: "Pending {ref}`Chapter 6 <claim-p>`."}, "pending"),
    ({4: "Vaswani et al."}, "cites no primary source"),
    ({3: "trained a while"}, "must start with one of"),
    ({3: "live training at a short budget: 3 seeds"}, "counts in words"),
    ({3: "a stored sweep: tuned, five seeds"}, "loads none"),
    ({2: f"*{LITERATURE}*"}, "marked as literature, but rests on"),
])
def test_a_bad_row_is_caught(change, message):
    row = list(GOOD)
    for i, value in change.items():
        row[i] = value
    problems = row_problems(row, FAKE_BOXES, set())
    assert any(message in p for p in problems), problems


def test_a_typed_number_outside_a_role_is_found_and_named_numbers_are_not():
    assert stray_digits("fell to 83% at length 256") == ["83%", "256"]
    assert stray_digits("{glue:text}`07_a.ipynb::k:.0%` in Chapter 7 and Table 2 of {cite}`x2020`") == []
    assert stray_digits("Figures 1 and 9, Section 3.2.3") == []
