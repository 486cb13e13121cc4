#!/usr/bin/env python3
"""`make lint`: the house limits that rustfmt and clippy do not check (docs/decisions/house-limits.md).

- no production source file over 600 lines (test modules in their own files, `tests.rs` or under
  `tests/`, and examples are not production);
- no import circles between a crate's top-level modules: module `a` naming `crate::b` (a `use`
  or a path) while `b`, directly or through others, names `crate::a`. The crate root (`lib.rs`,
  `main.rs`) is left out: it wires the modules together.

Function length is clippy's (`clippy::too_many_lines`, threshold in clippy.toml). Standard
library only; prints what it found and exits 1 on any problem.
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_FILE_LINES = 600
CRATES = ["shared", "core"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "functions", "*")))

CRATE_PATH = re.compile(r"\bcrate::(\w+)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def production_text(path):
    """The file without its inline `#[cfg(test)] mod … { … }` (assumed last, as rustfmt leaves it)."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub\s+)?mod\s+\w+\s*\{", text, re.M)
    return text[: m.start()] if m else text


def is_production(rel):
    parts = rel.split(os.sep)
    return not (parts[-1] == "tests.rs" or "tests" in parts[2:-1] or parts[-1].endswith("_tests.rs"))


def top_module(src, path):
    rel = os.path.relpath(path, src)
    first = rel.split(os.sep)[0]
    if first in ("lib.rs", "main.rs", "bin"):
        return None
    return first[:-3] if first.endswith(".rs") else first


def circles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    problems = []
    files = 0
    for crate in CRATES:
        src = os.path.join(ROOT, crate, "src")
        graph = {}
        why = {}
        for path in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
            rel = os.path.relpath(path, ROOT)
            if not is_production(rel):
                continue
            files += 1
            text = production_text(path)
            lines = text.count("\n")
            if lines > MAX_FILE_LINES:
                problems.append(f"{rel}: {lines} lines (limit {MAX_FILE_LINES}): split it along its phases")
            here = top_module(src, path)
            if here is None:
                continue
            code = re.sub(r"//[^\n]*", "", text)  # doc links are not imports
            named = set(CRATE_PATH.findall(code))
            for group in USE_GROUP.findall(code):
                named |= {g.strip().split("::")[0] for g in group.split(",") if g.strip()}
            for other in named - {here, "self"}:
                if os.path.exists(os.path.join(src, other + ".rs")) or os.path.isdir(os.path.join(src, other)):
                    graph.setdefault(here, set()).add(other)
                    why.setdefault((here, other), rel)
        for comp in circles(graph):
            edges = [f"{a} → {b} ({why[(a, b)]})" for a in comp for b in sorted(graph.get(a, ())) if b in comp]
            problems.append(f"{crate}: import circle between {', '.join(comp)}: " + "; ".join(edges))
    for p in problems:
        print(p)
    print(f"house: {files} production files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
