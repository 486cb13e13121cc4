#!/usr/bin/env python3
"""`make lint`: `sam build` can read infra/template.yaml and finds the six functions to build.

`sam validate --lint` and cfn-lint accept templates that `sam build` cannot read: with
`Fn::ForEach` (AWS::LanguageExtensions) in Resources, `sam build` stops with "'list' object has
no attribute 'get'" before building anything (aws/aws-sam-cli#5647, still so in SAM CLI 1.170).
This loads the template through the same SAM CLI code `sam build` uses to find what to build
(its stack and function providers) and fails on any error there, or when a function is missing,
is not built by cargo-lambda for arm64, or names a binary the workspace does not have. The build
itself takes 20 minutes and is measured in docs/deploy.md.

Runs in the venv (`$(PY)`), which holds the pinned SAM CLI.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
BINARIES = {"query-cost-watcher", "query-cost-feed", "long-query-killer", "row-count-reconciler",
            "log-subscription-transformer", "alert-notifier"}


def main(template=TEMPLATE):
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    try:
        stacks, _ = SamLocalStackProvider.get_stacks(template)
        functions = list(SamFunctionProvider(stacks, ignore_code_extraction_warnings=True).get_all())
    except Exception as e:  # what `sam build` would stop with
        print(f"sam build cannot read {os.path.relpath(template, ROOT)}: {type(e).__name__}: {e}")
        return 1
    problems = []
    built = set()
    for f in functions:
        meta = f.metadata or {}
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{f.name}: BuildMethod {meta.get('BuildMethod')!r}, not rust-cargolambda")
        if f.architectures != ["arm64"]:
            problems.append(f"{f.name}: architectures {f.architectures}, not [arm64]")
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        if binary not in BINARIES:
            problems.append(f"{f.name}: Binary {binary!r} is not one of the workspace's functions")
        built.add(binary)
    for missing in sorted(BINARIES - built):
        problems.append(f"no function of the template builds {missing}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"sam build reads the template: {len(functions)} functions, each built by cargo-lambda for arm64 ({', '.join(sorted(built))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
