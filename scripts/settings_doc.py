#!/usr/bin/env python3
"""docs/settings.md from the code: every environment variable a function reads, with its default
and meaning, taken from the doc comments of the config code.

What counts as "read": in the production sources (shared/src, core/src, functions/*/src; test
modules and examples left out), every `r.<accessor>("NAME", ...)` of a `ConfigReader` (and helpers
called as `helper(r, "NAME")`) inside a `fn read(r: &mut ConfigReader) -> Self`, and every
`std::env::var("NAME")`.

Where its documentation is: a `///` doc comment line in the same file that starts with the
variable's name in backticks, optionally a parenthesis, then a colon:

    /// `COST_THRESHOLD_USD` (default 5.00): alert when a query costs more.
    /// `FIREHOSE_STREAM` (optional; required for subscription mode): the delivery stream ...

The meaning runs on over the following `///` lines until the next such line or the end of the
comment. Several variables may share one comment, one line each.

`--check` (in `make lint`) exits 1, listing every problem, when:
- a variable the code reads has no such doc comment in its file;
- a documented default differs from the default in the code (where the code's is a literal);
- infra/template.yaml sets an environment variable on a function that does not read it (or, in
  `Globals`, one that no function reads);
- docs/settings.md differs from what this script writes (run `make settings-doc`).

Standard library only, so it runs before any venv exists.
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "settings.md")
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")

NAME = r"[A-Z][A-Z0-9_]*"
# Accessors of ConfigReader that read a variable (not `problem`, which only names one).
READS = re.compile(
    r"\br\s*\.\s*(required|optional|string_or|parse_or|optional_parsed|bool_or|timezone|list|map)"
    r"(?:::<[^>]*>)?\(\s*\"(" + NAME + r")\"")
PARAMETERS = set()  # the template's parameter names, filled by template_env()
HELPER_READS = re.compile(r"\b(\w+)\(\s*r\s*,\s*\"(" + NAME + r")\"")
ENV_READS = re.compile(r"std::env::var\(\s*\"(" + NAME + r")\"\s*\)")
NESTED = re.compile(r"\b(\w+)::read\(\s*r\s*\)")
READER_FN = re.compile(r"fn\s+read\s*\(\s*r\s*:\s*&mut\s+[\w:]*ConfigReader\s*\)\s*->\s*Self\s*\{")
DOC_ENTRY = re.compile(r"^`(" + NAME + r")`\s*(.*)$")

# Titles of the readers shared by several functions (shared/src): one section each.
SHARED_TITLES = {
    "CommonConfig": "Common to the Athena and log functions",
    "AthenaWatchSettings": "Athena history, price, ledger and index",
    "AuditSettings": "The log blind-spot audit (the digest's section and `make audit`)",
}


def rel(path):
    return os.path.relpath(path, ROOT)


def production_text(path):
    """The file without its test module (`#[cfg(test)]` followed by `mod`)."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub\s+)?mod\s", text, re.M)
    return text[: m.start()] if m else text


def sources():
    pats = ["shared/src/**/*.rs", "core/src/**/*.rs", "functions/*/src/**/*.rs"]
    files = set()
    for p in pats:
        files.update(glob.glob(os.path.join(ROOT, p), recursive=True))
    return sorted(files)


def block_end(text, open_brace):
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def default_after(text, pos):
    """The second argument of the call whose first argument ends at `pos`, as written."""
    i = pos
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != ",":
        return None
    depth, start = 0, i + 1
    for j in range(start, len(text)):
        c = text[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return text[start:j].strip()
            depth -= 1
        elif c == "," and depth == 0:
            return text[start:j].strip()
    return None


def doc_entries(text):
    """`NAME` -> (qualifier, meaning) from the file's `///` comments."""
    out = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].strip().startswith("///"):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].strip().startswith("///"):
            block.append(lines[i].strip()[3:].strip())
            i += 1
        current = None
        for line in block:
            m = DOC_ENTRY.match(line)
            parsed = parse_entry(m.group(1), m.group(2)) if m else None
            if parsed:
                current = [m.group(1), parsed[0], parsed[1], len(out)]
                out.setdefault(current[0], current)
            elif current is not None and out.get(current[0]) is current:
                current[2] = (current[2] + " " + line).strip()
    return {k: (v[1], v[2], v[3]) for k, v in out.items()}


def parse_entry(name, rest):
    """`(qualifier): meaning` or `: meaning` after the name; None when the line is not an entry."""
    qualifier = ""
    if rest.startswith("("):
        depth = 0
        for j, c in enumerate(rest):
            depth += c == "("
            depth -= c == ")"
            if depth == 0:
                qualifier, rest = rest[1:j].strip(), rest[j + 1:].lstrip()
                break
        else:
            return None
    if not rest.startswith(":"):
        return None
    return qualifier, rest[1:].strip()


class Reader:
    def __init__(self, struct, path, body_start, body):
        self.struct, self.path, self.body_start, self.body = struct, path, body_start, body
        self.reads = []  # (name, accessor, code default, line)
        self.nested = []


def scan():
    readers, env_reads, docs = {}, [], {}
    for path in sources():
        text = production_text(path)
        docs[path] = doc_entries(text)
        for m in ENV_READS.finditer(text):
            env_reads.append((m.group(1), path, text.count("\n", 0, m.start()) + 1))
        for m in READER_FN.finditer(text):
            impl = [x for x in re.finditer(r"\bimpl\s+(\w+)\s*\{", text[: m.start()])]
            if not impl:
                continue
            end = block_end(text, m.end() - 1)
            rd = Reader(impl[-1].group(1), path, m.end(), text[m.end():end])
            for rm in READS.finditer(rd.body):
                line = text.count("\n", 0, m.end() + rm.start()) + 1
                default = None
                if rm.group(1) in ("string_or", "parse_or", "bool_or", "timezone"):
                    default = default_after(rd.body, rm.end())
                rd.reads.append((rm.group(2), rm.group(1), default, line))
            for hm in HELPER_READS.finditer(rd.body):
                if hm.group(1) in ("problem",):
                    continue
                line = text.count("\n", 0, m.end() + hm.start()) + 1
                if hm.group(2) not in [r[0] for r in rd.reads]:
                    rd.reads.append((hm.group(2), hm.group(1), None, line))
            rd.reads.sort(key=lambda r: r[3])
            rd.nested = [n.group(1) for n in NESTED.finditer(rd.body)]
            readers[rd.struct] = rd
    return readers, env_reads, docs


def crate_of(path):
    parts = rel(path).split(os.sep)
    return parts[1] if parts[0] == "functions" else None


def bins_by_crate():
    out = {}
    for toml in sorted(glob.glob(os.path.join(ROOT, "functions", "*", "Cargo.toml"))):
        crate = os.path.basename(os.path.dirname(toml))
        text = open(toml, encoding="utf-8").read()
        out[crate] = re.findall(r"\[\[bin\]\]\s*\nname\s*=\s*\"([^\"]+)\"", text) or [crate]
    return out


def template_env():
    """{binary or 'Globals': {VAR: value as written}} from infra/template.yaml, line by line."""
    if not os.path.exists(TEMPLATE):
        return {}
    lines = open(TEMPLATE, encoding="utf-8").read().split("\n")
    out, section, resource, binary, i = {}, None, None, None, 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^[A-Za-z]", line):
            section, resource, binary = line.split(":")[0], None, None
        top = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if top:
            if section == "Parameters":
                PARAMETERS.add(top.group(1))
            if section == "Resources":
                resource, binary = top.group(1), None
        b = re.match(r"^\s+Binary:\s*(\S+)", line)
        if b:
            binary = b.group(1)
        if re.match(r"^\s+Variables:\s*$", line) and i > 0 and "Environment:" in lines[i - 1]:
            indent = len(line) - len(line.lstrip())
            owner = "Globals" if section == "Globals" else None
            vars_ = {}
            i += 1
            while i < len(lines):
                l = lines[i]
                if l.strip() and (len(l) - len(l.lstrip())) <= indent:
                    break
                v = re.match(r"^\s{%d}(%s):\s*(.*)$" % (indent + 2, NAME), l)
                if v:
                    vars_[v.group(1)] = v.group(2).strip()
                i += 1
            # the function's Binary comes a few lines before its Environment
            out.setdefault(owner or binary or resource, {}).update(vars_)
            continue
        i += 1
    return out


def norm_default(code):
    """A code default as a doc would write it; None when it is not a plain literal."""
    c = code.strip()
    m = re.fullmatch(r"NonNegative\((.*)\)", c)
    if m:
        c = m.group(1)
    m = re.fullmatch(r"chrono_tz::(\w+)::(\w+)", c)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    if re.fullmatch(r"\"[^\"]*\"", c):
        return c[1:-1]
    if re.fullmatch(r"-?[0-9][0-9_]*(\.[0-9]+)?", c) or c in ("true", "false"):
        return c.replace("_", "")
    return None


def same_default(code, documented):
    a = code
    b = documented.strip().strip("`").strip()
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def documented_default(qualifier):
    m = re.match(r"default\s+(.+?)(?:[;,]|$)", qualifier)
    return m.group(1).strip() if m else None


def cell(text):
    return text.replace("|", "\\|").strip()


def build():
    readers, env_reads, docs = scan()
    problems = []
    by_crate = bins_by_crate()

    def doc_for(name, path, line):
        d = docs.get(path, {}).get(name)
        if d is None:
            problems.append(f"{rel(path)}:{line}: `{name}` is read but has no doc comment "
                            f"(/// `{name}` (default ...): meaning) in this file")
        return d

    def rows_of(rd):
        rows = []
        for name, accessor, code_default, line in rd.reads:
            d = doc_for(name, rd.path, line)
            qualifier, meaning, _ = d if d else ("", "", 0)
            if code_default is not None:
                nd = norm_default(code_default)
                dd = documented_default(qualifier)
                if nd is not None and dd is not None and not same_default(nd, dd):
                    problems.append(f"{rel(rd.path)}:{line}: `{name}` defaults to {nd} in the "
                                    f"code but its doc comment says {dd}")
                if nd is not None and dd is None and "set by" not in qualifier:
                    problems.append(f"{rel(rd.path)}:{line}: `{name}` defaults to {nd} in the "
                                    f"code; say so in its doc comment: (default {nd})")
            rows.append((name, accessor == "required", qualifier, meaning, rd.path))
        # in the order the doc comments come (the config struct's fields)
        order = docs.get(rd.path, {})
        rows.sort(key=lambda r: order[r[0]][2] if r[0] in order else 10**6)
        return rows

    def closure(struct, seen=None):
        seen = seen if seen is not None else []
        if struct in readers and struct not in seen:
            seen.append(struct)
            for n in readers[struct].nested:
                closure(n, seen)
        return seen

    # Sections: one per function crate (its own readers), one per shared reader, then the
    # variables read with std::env::var.
    crate_roots = {}
    for s, rd in readers.items():
        c = crate_of(rd.path)
        if c:
            crate_roots.setdefault(c, []).append(s)
    used_by = {}
    function_sections = []
    for crate in sorted(crate_roots):
        structs = crate_roots[crate]
        nested_here = {n for s in structs for n in readers[s].nested}
        roots = [s for s in structs if s not in nested_here]
        own, seen_vars = [], set()
        for root in roots:
            for s in closure(root):
                if crate_of(readers[s].path) == crate:
                    for row in rows_of(readers[s]):
                        if row[0] not in seen_vars:
                            seen_vars.add(row[0])
                            own.append(row)
                else:
                    used_by.setdefault(s, []).append(crate)
        function_sections.append((crate, roots, own))
    shared_sections = []
    for s in readers:
        if crate_of(readers[s].path) is None and s in used_by:
            shared_sections.append((s, rows_of(readers[s])))
    env_rows = {"common": [], **{c: [] for c in crate_roots}}
    for name, path, line in env_reads:
        d = doc_for(name, path, line)
        qualifier, meaning, _ = d if d else ("", "", 0)
        env_rows.setdefault(crate_of(path) or "common", []).append(
            (name, False, qualifier, meaning, path))

    # What each binary reads, for the template check.
    reads_of = {}
    for crate, roots, own in function_sections:
        names = {r[0] for r in own} | {r[0] for r in env_rows.get(crate, [])}
        for root in roots:
            for s in closure(root):
                names |= {r[0] for r in readers[s].reads}
        names |= {r[0] for r in env_rows["common"]}
        for b in by_crate.get(crate, [crate]):
            reads_of[b] = names
    everything = set().union(*reads_of.values()) if reads_of else set()
    tpl = template_env()
    template_notes = []
    for owner, vars_ in sorted(tpl.items()):
        for var in vars_:
            if owner == "Globals":
                if var not in everything:
                    problems.append(f"infra/template.yaml: Globals sets `{var}`, which no function "
                                    f"reads")
                else:
                    unread = sorted(b for b in tpl if b != "Globals" and b in reads_of
                                    and var not in reads_of[b])
                    if unread:
                        template_notes.append(f"Globals sets `{var}` on every function; "
                                              f"{', '.join(unread)} does not read it")
            elif owner not in reads_of:
                problems.append(f"infra/template.yaml: {owner} is not a function binary this "
                                f"script knows (sets {', '.join(vars_)})")
            elif var not in reads_of[owner]:
                problems.append(f"infra/template.yaml: {owner} is given `{var}`, which it does "
                                f"not read (or which is undocumented)")

    def stack_value(binary_names, var):
        for b in binary_names:
            v = tpl.get(b, {}).get(var)
            if v is not None:
                return v
        return tpl.get("Globals", {}).get(var)

    def fmt_value(v):
        if v is None:
            return ""
        m = re.fullmatch(r"!Ref\s+(\w+)", v)
        if m and m.group(1) in PARAMETERS:
            return f"parameter `{m.group(1)}`"
        if m or v.startswith("!"):
            return "a stack resource"
        return f"`{v.strip(chr(34))}`"

    def table(rows, binaries):
        out = ["| variable | default | stack sets it from | meaning |", "|---|---|---|---|"]
        for name, required, qualifier, meaning, path in rows:
            q = qualifier
            if required:
                default = "(required)"
            elif documented_default(q) is not None:
                default = documented_default(q)
                rest = q[len(re.match(r"default\s+.+?(?:[;,]|$)", q).group(0)):].strip()
                if not default.startswith("`"):
                    default = f"`{default}`"
                if rest:
                    default = f"{default}; {rest}"
            elif q:
                default = f"({q})"
            else:
                default = "(none)"
            meaning = re.sub(r"\[(`[^`]+`)\](?!\()", r"\1", meaning)
            if binaries:
                value = fmt_value(stack_value(binaries, name))
            elif name in tpl.get("Globals", {}):
                value = fmt_value(tpl["Globals"][name])
            else:
                given = {b: fmt_value(tpl[b][name]) for b in tpl if b != "Globals" and name in tpl[b]}
                if len(set(given.values())) == 1:
                    value = next(iter(given.values()))
                else:
                    value = "; ".join(f"{b}: {v}" for b, v in given.items())
            out.append(f"| `{name}` | {cell(default)} | {cell(value)} | {cell(meaning)} |")
        return out

    md = [
        "# Settings",
        "",
        "<!-- Generated by scripts/settings_doc.py from the doc comments of the config code; do not",
        "     edit. Change the doc comment, then run `make settings-doc`. `make lint` fails when this",
        "     page is stale or when a variable the code reads has no doc comment. -->",
        "",
        "Every function reads its settings from environment variables at start-up (the stack sets",
        "them from its parameters: [deploy.md](deploy.md#parameters)). Empty counts as unset. A bad",
        "value stops the start-up with one message naming every bad variable, for example:",
        "",
        "```",
        "invalid configuration (5 problems):",
        "  - ALERT_TOPIC_ARN: required but not set",
        "  - METRICS_NAMESPACE: longer than CloudWatch's 255 characters",
        "  - DRY_RUN: \"perhaps\" is not a boolean (use true or false)",
        "  - LEDGER_TABLE: required but not set",
        "  - QUERY_INDEX_TABLE: required but not set",
        "```",
        "",
        "Booleans take `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`; lists are comma-separated;",
        "maps are `key=value` pairs, comma-separated (`etl=200,adhoc=50`). A scheduled event may",
        "carry overrides in its `detail` (or as the whole input of a schedule with a constant input),",
        "e.g. `{\"dry_run\": true}`; each function's page says which it takes.",
        "",
        "Read by the AWS SDK and the Lambda runtime, not by lakeops' config code:",
        "`AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (default: AWS) point every AWS call at",
        "another endpoint, such as the local emulator; `AWS_LAMBDA_LOG_FORMAT` and",
        "`AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`) are set by Lambda's logging config (text and `INFO`",
        "by default; the template sets `JSON`).",
        "",
        "\"Stack sets it from\" is what `infra/template.yaml` gives the function; a variable it",
        "leaves out keeps its default.",
    ]
    for s, rows in shared_sections:
        title = SHARED_TITLES.get(s, s)
        users = sorted(set(used_by[s]))
        names = []
        for c in users:
            names += [b for b in by_crate.get(c, [c]) if not tpl or b in tpl]
        if s == "CommonConfig":
            rows = rows + env_rows["common"]
        md += ["", f"## {title}", "",
               f"Read by {', '.join(f'`{n}`' for n in names)} (`{s}` in `{rel(readers[s].path)}`).",
               ""]
        md += table(rows, None)
    for crate, roots, own in function_sections:
        binaries = by_crate.get(crate, [crate])
        binaries = [b for b in binaries if b in tpl] or binaries
        rows = own + env_rows.get(crate, [])
        shared = [s for root in roots for s in closure(root) if crate_of(readers[s].path) != crate]
        md += ["", f"## {' and '.join(binaries)}", ""]
        where = ", ".join(f"`{r}` in `{rel(readers[r].path)}`" for r in roots)
        line = f"Its own settings ({where})"
        if shared:
            line += "; it also reads the settings " + ", ".join(
                f"[{SHARED_TITLES.get(s, s).split(' (')[0]}](#{anchor(SHARED_TITLES.get(s, s))})"
                for s in dict.fromkeys(shared))
        md += [line + ". What the function does: "
               f"[functions/{crate}.md](functions/{crate}.md).", ""]
        md += table(rows, binaries)
    return "\n".join(md) + "\n", problems, template_notes


def anchor(title):
    a = title.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def main():
    text, problems, notes = build()
    check = "--check" in sys.argv[1:]
    if not check:
        with open(OUT, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {rel(OUT)}")
    else:
        current = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
        if current != text:
            problems.append(f"{rel(OUT)} is out of date with the config code: run `make settings-doc`")
    for n in notes:
        print(f"note: {n}")
    if problems:
        print(f"settings: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    if check:
        print("settings: docs/settings.md matches the code; every variable read is documented")


if __name__ == "__main__":
    main()
