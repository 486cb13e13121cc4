#!/usr/bin/env python3
"""`make deploy`: build the stack and deploy it, asking only what a team must decide.

`sam deploy --guided` asks for every one of the template's 29 parameters. Most have a default
that fits (docs/deploy.md lists them all); what only the team can say is where alerts go and how
much a day may cost. So this asks, with the answer of the last deploy (or the template's
default) in brackets, Enter keeping it:

- `AlertEmail` and `ChatChannelsSecretName`: where alerts go (at least one, or an AWS Chatbot /
  SQS subscriber in `AlertSubscriberArns`, else alerts reach no one: asked again);
- `DailyBudgetsUsd` and `PrincipalBudgetsUsd`: daily budgets per workgroup and per person;
- `Timezone`: where days begin (budgets, the digest);
- `KillerMode`: `dry-run` (the default: warns, reports what it would stop) or `enforce`.

The answers, and any other parameter already in `infra/samconfig.toml`, are saved there (so the
next `make deploy` asks nothing new: Enter through it, or `make deploy YES=1` to ask nothing),
then `sam build --beta-features` and `sam deploy` run with them. Any other parameter: set it in
`infra/samconfig.toml` under `parameter_overrides`, or `PARAMS='Name=value ...'`.

`--dry-run` prints the commands instead of running them (used by `make lint`'s self-test).
Standard library only.
"""

import os
import re
import shlex
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFRA = os.path.join(ROOT, "infra")
CONFIG = os.path.join(INFRA, "samconfig.toml")

# (parameter, question, template default)
QUESTIONS = [
    ("AlertEmail", "E-mail address for alerts (blank: none)", ""),
    ("ChatChannelsSecretName", "Secrets Manager secret of the chat channels (blank: no chat)", ""),
    ("DailyBudgetsUsd", "Daily budgets per workgroup, e.g. etl=200,adhoc=50 (blank: none)", ""),
    ("PrincipalBudgetsUsd", "Daily budgets per person, e.g. jane@example.com=50 (blank: none)", ""),
    ("Timezone", "Timezone where days begin", "Asia/Seoul"),
    ("KillerMode", "Long-query killer mode: dry-run or enforce", "dry-run"),
]
ALERT_TARGETS = ("AlertEmail", "ChatChannelsSecretName", "AlertSubscriberArns")
CHOICES = {"KillerMode": ("dry-run", "enforce")}
PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def read_overrides(path):
    """The saved `parameter_overrides` of the deploy section (`Name="value" ...`, or a list)."""
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        data = tomllib.load(f)
    raw = data.get("default", {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    if isinstance(raw, list):
        raw = " ".join(raw)
    unquote = lambda v: re.sub(r"\\(.)", r"\1", v[1:-1]) if v.startswith('"') else v  # noqa: E731
    return {k: unquote(v) for k, v in PAIR.findall(raw)}


def write_config(path, overrides):
    """samconfig.toml with the stack's settings and the parameters (TOML, written by hand)."""
    quoted = {k: v.replace("\\", "\\\\").replace('"', '\\"') for k, v in overrides.items()}
    pairs = " ".join(f'{k}="{v}"' for k, v in sorted(quoted.items()))
    toml_value = pairs.replace("\\", "\\\\").replace('"', '\\"')
    text = f"""version = 0.1

[default.global.parameters]
stack_name = "lakeops"

[default.build.parameters]
beta_features = true

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
resolve_s3 = true
parameter_overrides = "{toml_value}"
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def ask(saved, interactive, read=input, say=print):
    """The answers: saved ones kept on Enter; asked again until alerts reach someone."""
    answers = dict(saved)
    while True:
        for name, question, default in QUESTIONS:
            current = answers.get(name, default)
            if not interactive:
                answers[name] = current
                continue
            while True:
                got = read(f"{question} [{current}]: ").strip()
                value = current if got == "" else ("" if got == "-" else got)
                allowed = CHOICES.get(name)
                if allowed and value not in allowed:
                    say(f"  {name} must be one of {', '.join(allowed)}")
                    continue
                answers[name] = value
                break
        if any(answers.get(t) for t in ALERT_TARGETS):
            return answers
        if not interactive:
            raise SystemExit("no alert e-mail, chat secret or subscriber: alerts would reach no one "
                             "(run make deploy without YES=1 to answer)")
        say("  Alerts would reach no one: give an e-mail address or a chat secret (or set "
            "AlertSubscriberArns in infra/samconfig.toml).")


def commands(answers):
    # Blank ones are left to the template's defaults (all blank ones default to blank).
    overrides = [f"{k}={v}" for k, v in sorted(answers.items()) if v != ""]
    return [
        ["sam", "build", "--beta-features"],
        ["sam", "deploy", "--parameter-overrides", *overrides],
    ]


def main(argv):
    dry_run = "--dry-run" in argv
    config = CONFIG
    if "--config" in argv:
        config = argv[argv.index("--config") + 1]
    interactive = os.environ.get("YES", "") in ("", "0") and sys.stdin.isatty() or "--ask" in argv
    saved = read_overrides(config)
    extra = dict(PAIR.findall(os.environ.get("PARAMS", "")))
    answers = ask({**saved, **{k: v.strip('"') for k, v in extra.items()}}, interactive)
    write_config(config, answers)
    print(f"saved the parameters in {os.path.relpath(config, ROOT)}")
    for cmd in commands(answers):
        print("$ " + " ".join(shlex.quote(c) for c in cmd))
        if not dry_run:
            subprocess.run(cmd, cwd=INFRA, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
