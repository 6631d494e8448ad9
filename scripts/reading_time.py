"""How long each notebook takes to read and run, its core and the whole, and the README's table and the instructor
guide's plan kept in step with those numbers.

    python scripts/reading_time.py            # print the table
    python scripts/reading_time.py --check    # exit 1 if README.md or docs/INSTRUCTORS.md is out of step, or a target fails
    python scripts/reading_time.py --write    # rewrite the README's table and the plan in docs/INSTRUCTORS.md

The estimate, in minutes (issue 22):

- prose at ``WORDS_PER_MINUTE`` (150): the words of the markdown cells (link targets, images, HTML tags and the
  Colab badge do not count; a word is a run of non-space characters holding a letter or a digit);
- code at ``LINES_PER_MINUTE`` (10): the non-empty lines of the code cells, comments included, the first code cell
  (the hidden bootstrap, ``scripts/bootstrap_cell.py``) excluded;
- plus the measured run time, from ``docs/run_times.json``: seconds per code cell of a top-to-bottom run on the
  full-size FashionMNIST stand-in, on one CPU thread, written by
  ``python benchmarks/time_notebooks.py --data standin --write-run-times``. Cells are matched by their source, so
  moving a cell between the core and "Going further" needs no new measurement; a code cell edited since the
  measurement is reported as "not timed" (in the printed table and by ``--check``), and the run time left over
  in the whole measurement is charged to the core, so the estimate errs long. A notebook measured only in all
  (no per-cell times) has all of its run time charged to the core. Kernel start-up counts in the core.

Core and "Going further": the core of a notebook is every cell before its first level-2 heading that begins with
``## Going further`` (a heading in the middle of a markdown cell splits that cell). From that heading to the end
of the notebook everything is optional: later "Going further" sections, and exercises or a summary placed after
them, which the workshop plan times separately. A notebook without such a heading is all core.
Minutes are shown rounded up, and the targets are checked on the shown minutes.

Targets (``--check`` and ``tests/test_reading_time.py``): notebook 00's core at most ``TARGET_00`` minutes,
every other core at most ``TARGET_CORE``, the cores of the workshop path (``WORKSHOP``: 00 to 07 without 03b and
05b) at most ``TARGET_WORKSHOP`` together.

What ``--write`` rewrites: in README.md, the table between ``<!-- reading-time:start -->`` and
``<!-- reading-time:end -->`` (the "core" and "whole" columns of each row, rows added for new notebooks, the
line under it); in docs/INSTRUCTORS.md, between ``<!-- plan:start -->`` and ``<!-- plan:end -->``, the
paragraph above the plan, the "start" and "minutes" columns of the plan (a row that links a notebook gets that
notebook's core minutes; breaks and exercise blocks keep theirs) and the paragraph under it. Everything else in
those files, the "you will" and "notes" columns included, is left as written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
INSTRUCTORS = ROOT / "docs" / "INSTRUCTORS.md"
RUN_TIMES = ROOT / "docs" / "run_times.json"

WORDS_PER_MINUTE = 150
LINES_PER_MINUTE = 10
TARGET_00 = 10
TARGET_CORE = 20
TARGET_WORKSHOP = 150
WORKSHOP = ("00", "01", "02", "03", "04", "05", "06", "07")  # the 3-hour path; 03b and 05b are optional
GOING_FURTHER = re.compile(r"^## Going further\b", re.IGNORECASE)

README_START, README_END = "<!-- reading-time:start -->", "<!-- reading-time:end -->"
PLAN_START, PLAN_END = "<!-- plan:start -->", "<!-- plan:end -->"


# ---------------------------------------------------------------------------------------------------- counting


def cell_key(source: str) -> str:
    """The name a code cell's timing is stored under in docs/run_times.json: a hash of its source."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")  # ![alt](src): not read
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # [text](target): the text is read, the target not
_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.DOTALL)
_URL = re.compile(r"https?://\S+")
_WORD = re.compile(r"\S*[^\W_]\S*")  # a run of non-space characters holding a letter or a digit


def prose_words(markdown: str) -> int:
    """The words a reader reads in ``markdown``."""
    text = _TAG.sub(" ", markdown)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(lambda m: f" {m.group(1)} ", text)
    text = _IMAGE.sub(" ", _URL.sub(" ", text))  # a badge is an image inside a link
    return len(_WORD.findall(text))


def code_lines(code: str) -> int:
    """Non-empty lines of ``code``."""
    return sum(1 for line in code.splitlines() if line.strip())


@dataclass
class Part:
    """Words, code lines and the code cells (by key) of one part of a notebook."""

    words: int = 0
    lines: int = 0
    cells: tuple[str, ...] = ()


@dataclass
class Estimate:
    name: str  # "00", "03b", ...
    file: str
    title: str
    core: Part
    rest: Part
    core_run_s: float
    whole_run_s: float
    untimed: int  # code cells without a measured time (edited since the measurement)
    measured: bool  # whether docs/run_times.json has this notebook at all
    cells_timed: bool = True  # whether it has per-cell times (else only a total, all charged to the core)

    def _minutes(self, words: int, lines: int, run_s: float) -> float:
        return words / WORDS_PER_MINUTE + lines / LINES_PER_MINUTE + run_s / 60

    @property
    def core_minutes(self) -> float:
        return self._minutes(self.core.words, self.core.lines, self.core_run_s)

    @property
    def whole_minutes(self) -> float:
        return self._minutes(self.core.words + self.rest.words, self.core.lines + self.rest.lines, self.whole_run_s)

    @property
    def core_shown(self) -> int:
        return shown(self.core_minutes)

    @property
    def whole_shown(self) -> int:
        return shown(self.whole_minutes)


def shown(minutes: float) -> int:
    """Minutes as the tables show them: rounded up (a tiny tolerance for float noise)."""
    return math.ceil(minutes - 1e-9)


def split(nb: dict) -> tuple[Part, Part]:
    """The core and the rest ("Going further" onwards) of a notebook, bootstrap excluded."""
    parts = {"core": Part(), "rest": Part()}
    where = "core"
    first_code = True
    for cell in nb["cells"]:
        source = _source(cell)
        if cell["cell_type"] == "markdown":
            chunk = []
            for line in source.splitlines():
                if where == "core" and GOING_FURTHER.match(line):
                    parts[where].words += prose_words("\n".join(chunk))
                    chunk, where = [], "rest"
                chunk.append(line)
            parts[where].words += prose_words("\n".join(chunk))
        elif cell["cell_type"] == "code":
            if first_code:  # the bootstrap: hidden, not read; its run time still counts
                first_code = False
                parts[where].cells += (cell_key(source),)
                continue
            parts[where].lines += code_lines(source)
            parts[where].cells += (cell_key(source),)
    return parts["core"], parts["rest"]


def load_run_times(path: Path = RUN_TIMES) -> dict:
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("notebooks", {})


def run_seconds(core: Part, rest: Part, timing: dict | None) -> tuple[float, float, int]:
    """(core run s, whole run s, untimed cells) from one notebook's entry in docs/run_times.json."""
    if not timing:
        return 0.0, 0.0, len(core.cells) + len(rest.cells)
    whole = float(timing["whole_s"])
    cells = timing.get("cells", {})
    if not cells:  # only a total: charge all of it to the core
        return whole, whole, 0
    known = lambda keys: sum(cells[k] for k in keys if k in cells)  # noqa: E731
    untimed_core = [k for k in core.cells if k not in cells]
    untimed = len(untimed_core) + sum(k not in cells for k in rest.cells)
    overhead = max(0.0, whole - sum(cells.values()))  # kernel start-up and the like
    leftover = max(0.0, whole - overhead - known(core.cells) - known(rest.cells))
    core_s = overhead + known(core.cells) + (leftover if untimed_core else 0.0)
    return core_s, whole, untimed


def estimate(path: Path, run_times: dict | None = None) -> Estimate:
    nb = json.loads(path.read_text(encoding="utf-8"))
    core, rest = split(nb)
    run_times = load_run_times() if run_times is None else run_times
    timing = run_times.get(path.name)
    core_s, whole_s, untimed = run_seconds(core, rest, timing)
    first_md = next((_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"), "")
    title = first_md.splitlines()[0].lstrip("# ").strip() if first_md else path.stem
    return Estimate(path.name.split("_")[0], path.name, title, core, rest, core_s, whole_s, untimed, bool(timing),
                    bool(timing and timing.get("cells")))


def estimates(folder: Path = NOTEBOOKS, run_times: dict | None = None) -> list[Estimate]:
    run_times = load_run_times() if run_times is None else run_times
    return [estimate(p, run_times) for p in sorted(folder.glob("*.ipynb"))]


# ----------------------------------------------------------------------------------------------------- targets


def workshop_minutes(ests: list[Estimate]) -> int:
    return sum(e.core_shown for e in ests if e.name in WORKSHOP)


def target_failures(ests: list[Estimate]) -> list[str]:
    """One line per target that does not hold."""
    failures = []
    for e in ests:
        limit = TARGET_00 if e.name == "00" else TARGET_CORE
        if e.core_shown > limit:
            failures.append(f"{e.name}: core {e.core_shown} min > {limit}")
    total = workshop_minutes(ests)
    if total > TARGET_WORKSHOP:
        failures.append(f"workshop path ({', '.join(WORKSHOP)}): cores {total} min together > {TARGET_WORKSHOP}")
    return failures


def table(ests: list[Estimate]) -> str:
    rows = [f"{'nb':4s} {'core':>5s} {'whole':>6s}   {'core: words lines run_s':24s} {'rest: words lines':18s} note"]
    for e in ests:
        note = "" if e.measured else "no measured run time"
        note = note or (f"{e.untimed} code cells not timed" if e.untimed else "")
        note = note or ("" if e.cells_timed else "run time: a total only")
        rows.append(f"{e.name:4s} {e.core_minutes:5.1f} {e.whole_minutes:6.1f}   "
                    f"{e.core.words:6d} {e.core.lines:5d} {e.core_run_s:6.1f}{'':6s} "
                    f"{e.rest.words:6d} {e.rest.lines:5d}{'':7s} {note}")
    rows.append(f"workshop path {'+'.join(WORKSHOP)}: cores {workshop_minutes(ests)} min (target {TARGET_WORKSHOP})")
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------------------ README


def _between(text: str, start: str, end: str, path: Path) -> tuple[str, str, str]:
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SystemExit(f"{path.name}: needs exactly one {start} ... {end} pair")
    head, rest = text.split(start)
    body, tail = rest.split(end)
    return head, body, tail


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def readme_block(body: str, ests: list[Estimate]) -> str:
    """The README's marked block with the minutes of ``ests``: columns # | notebook | you will | core | whole | open."""
    lines = [line for line in body.strip("\n").splitlines() if line.startswith("|")]
    header, rule, rows = lines[0], lines[1], lines[2:]
    by_name = {_cells(r)[0]: _cells(r) for r in rows}
    sys.path.insert(0, str(ROOT / "scripts"))
    from bootstrap_cell import colab_badge

    out = [header, rule]
    for e in ests:
        cells = by_name.get(e.name) or [e.name, f"[{e.title}](notebooks/{e.file})", "", "", "", colab_badge(e.file)]
        cells[3], cells[4] = str(e.core_shown), str(e.whole_shown)
        out.append(_row(cells))
    optional = [e for e in ests if e.name not in WORKSHOP]
    out += ["", f"The workshop path ({', '.join(e.name for e in ests if e.name in WORKSHOP)}): "
                f"{workshop_minutes(ests)} minutes of core. The whole series, {' and '.join(e.name for e in optional)} "
                f"and every \"Going further\" included: {sum(e.whole_shown for e in ests)} minutes."]
    return "\n" + "\n".join(out) + "\n"


def rewrite_readme(text: str, ests: list[Estimate]) -> str:
    head, body, tail = _between(text, README_START, README_END, README)
    return head + README_START + readme_block(body, ests) + README_END + tail


# ------------------------------------------------------------------------------------------------ INSTRUCTORS


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


_NB_LINK = re.compile(r"\(\.\./notebooks/(\w+?)_[\w.]*\.ipynb\)")


def plan_block(body: str, ests: list[Estimate]) -> str:
    """The plan's marked block: a paragraph, the table (start | block | minutes | notes), a paragraph."""
    by_name = {e.name: e for e in ests}
    lines = [line for line in body.strip("\n").splitlines() if line.startswith("|")]
    header, rule, rows = lines[0], lines[1], [_cells(r) for r in lines[2:]]
    clock, out, nb_minutes, other = 0, [header, rule], 0, 0
    split_after = None
    for cells in rows:
        cells[0] = _clock(clock)
        found = _NB_LINK.search(cells[1])
        if found and found.group(1) in by_name:
            cells[2] = str(by_name[found.group(1)].core_shown)
            nb_minutes += int(cells[2])
            if found.group(1) == "03":
                split_after = clock + int(cells[2])
        elif cells[2].strip().isdigit():
            other += int(cells[2])
        clock += int(cells[2]) if cells[2].strip().isdigit() else 0
        out.append(_row(cells))
    end = clock
    opt = [by_name[n] for n in ("03b", "05b") if n in by_name]
    before = (f"The cores of the eight workshop notebooks take {_duration(nb_minutes)} to read and run "
              f"(`python scripts/reading_time.py`: prose at {WORDS_PER_MINUTE} words and code at "
              f"{LINES_PER_MINUTE} lines a minute, plus the measured run time); breaks and exercise blocks add "
              f"{other} minutes, so the plan ends at {_clock(end)}"
              + (f", leaving {180 - end} minutes for questions." if end < 180 else
                 "." if end == 180 else f": {_duration(end - 180)} over three hours, until the cores meet "
                 f"their targets.")
              + " Each notebook's \"Going further\" sections are not in the plan: they are homework.")
    after = []
    if split_after is not None:
        after.append(f"**Two sessions.** Split after 03 ({_duration(split_after)} with its exercises); "
                     f"the second session starts with 04.")
    if opt:
        after.append("**Not in the plan:** " + " and ".join(
            f"[{e.name} · {e.title.split('·', 1)[-1].split(':')[0].strip()}](../notebooks/{e.file}) "
            f"({e.core_shown} minutes of core, {e.whole_shown} in all)" for e in opt)
            + " go deeper than a three-hour workshop can; give them as homework or use them for a second day.")
    return "\n" + before + "\n\n" + "\n".join(out) + "\n\n" + "\n\n".join(after) + "\n"


def rewrite_instructors(text: str, ests: list[Estimate]) -> str:
    head, body, tail = _between(text, PLAN_START, PLAN_END, INSTRUCTORS)
    return head + PLAN_START + plan_block(body, ests) + PLAN_END + tail


# -------------------------------------------------------------------------------------------------------- main


def out_of_step(ests: list[Estimate]) -> list[str]:
    """The files whose numbers differ from ``ests``."""
    stale = []
    for path, rewrite in ((README, rewrite_readme), (INSTRUCTORS, rewrite_instructors)):
        text = path.read_text(encoding="utf-8")
        if rewrite(text, ests) != text:
            stale.append(str(path.relative_to(ROOT)))
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the README or the plan is out of step, "
                                                            "or a target fails")
    mode.add_argument("--write", action="store_true", help="rewrite the README's table and the plan's minutes")
    args = parser.parse_args(argv)
    ests = estimates()
    print(table(ests))
    untimed = [e.name for e in ests if e.untimed or not e.measured or not e.cells_timed]
    if untimed:
        print(f"note: run times not measured for every code cell of {', '.join(untimed)}: "
              "python benchmarks/time_notebooks.py --data standin --write-run-times")
    failures = target_failures(ests)
    for line in failures:
        print(f"TARGET MISSED: {line}")
    if args.write:
        readme = rewrite_readme(README.read_text(encoding="utf-8"), ests)  # both first: a missing marker writes nothing
        plan = rewrite_instructors(INSTRUCTORS.read_text(encoding="utf-8"), ests)
        README.write_text(readme, encoding="utf-8")
        INSTRUCTORS.write_text(plan, encoding="utf-8")
        print("wrote README.md and docs/INSTRUCTORS.md")
        return 0
    if args.check:
        stale = out_of_step(ests)
        for name in stale:
            print(f"OUT OF STEP: {name}: run python scripts/reading_time.py --write")
        return 1 if stale or failures else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
