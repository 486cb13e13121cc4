#!/usr/bin/env python3
"""`make lint`: every relative link in README.md and docs/**/*.md resolves.

A link `[text](target)` or an image `![alt](target)` whose target is not a URL (`http:`,
`https:`, `mailto:`) must name a file or directory that exists, relative to the page. A
`#fragment` on a Markdown page (or on the page itself) must match one of its headings, as GitHub
makes anchors from them: lower case, punctuation other than `-` and `_` dropped, spaces turned
into `-`, repeats numbered `-1`, `-2`. Fragments on other files (`code.rs#L10`) are not checked.
Links inside fenced code blocks and inline code are not links.

Standard library only. Exit 1 listing every broken link.
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def pages():
    out = [os.path.join(ROOT, "README.md")]
    out += glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
    return sorted(p for p in out if os.path.isfile(p))


def prose(text):
    """The text outside fenced code blocks, with inline code blanked (line numbers kept)."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else re.sub(r"(`+)(?:(?!\1).)+\1", "", line))
    return lines


def anchors(path, cache={}):
    if path not in cache:
        seen, out = {}, set()
        for line in prose(open(path, encoding="utf-8").read()):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            a = m.group(1).strip().lower()
            a = re.sub(r"[^\w\- ]", "", a).replace(" ", "-")
            n = seen.get(a, 0)
            seen[a] = n + 1
            out.add(a if n == 0 else f"{a}-{n}")
        # headings written in inline code lose their backticks, not their words
        for line in open(path, encoding="utf-8").read().split("\n"):
            m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
            if m:
                a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                out.add(a)
        for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", open(path, encoding="utf-8").read()):
            out.add(m.group(1))
        cache[path] = out
    return cache[path]


def check():
    problems, count = [], 0
    for page in pages():
        for n, line in enumerate(prose(open(page, encoding="utf-8").read()), 1):
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue
                count += 1
                path, _, frag = target.partition("#")
                dest = page if not path else os.path.normpath(os.path.join(os.path.dirname(page), path))
                where = f"{os.path.relpath(page, ROOT)}:{n}"
                if not os.path.exists(dest):
                    problems.append(f"{where}: {target}: no such file")
                elif frag and dest.endswith(".md") and os.path.isfile(dest):
                    if frag.lower() not in anchors(dest):
                        problems.append(f"{where}: {target}: no heading #{frag} in "
                                        f"{os.path.relpath(dest, ROOT)}")
    return problems, count


def main():
    problems, count = check()
    if problems:
        print(f"links: {len(problems)} broken:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    print(f"links: {count} relative links in README.md and docs/ resolve")


if __name__ == "__main__":
    main()
