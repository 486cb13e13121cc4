#!/usr/bin/env python3
"""`make lint`: every cargo command builds the dependencies with one feature set.

Cargo resolves features per command (the packages selected, and whether tests are built), and a
different set of features on a crate deep in the AWS SDK stack rebuilds the whole stack. The
crate `shared/workspace-hack` asks for the union so that `cargo build --workspace`, `cargo test`,
`cargo run -p <crate>` and `cargo lambda watch` (a `cargo run --bin` per function) all agree
(docs/decisions/one-feature-set.md). This compares, with `cargo tree`, the features every
registry crate gets under each of those selections with the whole workspace's, and fails on the
first crate that differs, naming the selection: add what it says to the hack's Cargo.toml.
"""

import json
import subprocess
import sys

WORKSPACE_PREFIXES = ("lakeops", "query-cost-watcher", "long-query-killer", "row-count-reconciler",
                      "log-subscription-transformer", "alert-notifier")


# The pure core (no AWS SDK): built alone, it can only rebuild serde and chrono, in seconds; no
# make target builds it alone (docs/decisions/core-and-ports.md).
ALONE_IS_CHEAP = {"lakeops-core"}


def features(*selection):
    out = subprocess.run(
        ["cargo", "tree", *selection, "-f", "{p}|{f}", "--prefix", "none"],
        check=True, capture_output=True, text=True,
    ).stdout
    # A crate can be built twice, for the host (build scripts, proc macros) and the target, each
    # with its own features: compare the set of variants.
    found = {}
    for line in out.splitlines():
        if "|" not in line or line.endswith("(*)"):
            continue
        package, feats = line.split("|", 1)
        if not package.startswith(WORKSPACE_PREFIXES):
            found.setdefault(package, set()).add(feats)
    return found


def members():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        check=True, capture_output=True, text=True,
    ).stdout)
    return [p["name"] for p in meta["packages"]]


def main():
    whole = features("--workspace", "-e", "normal,build,dev")
    problems = []
    selections = [("--workspace", "-e", "normal,build")]
    for name in members():
        if name in ALONE_IS_CHEAP:
            continue
        selections.append(("-p", name, "-e", "normal,build"))
        selections.append(("-p", name, "-e", "normal,build,dev"))
    for selection in selections:
        got = features(*selection)
        for package in sorted(set(got) & set(whole)):
            if got[package] != whole[package]:
                problems.append(
                    f"`cargo tree {' '.join(selection)}` builds {package} with {sorted(got[package])}, "
                    f"the workspace with {sorted(whole[package])}: add the difference to "
                    "shared/workspace-hack/Cargo.toml"
                )
                break
    for p in problems:
        print(p)
    print(f"feature sets: {len(selections)} selections checked, {len(problems)} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
