#!/usr/bin/env python3
"""Keeps docs/ true to the code.

- Every `holdfast ...` and `holdfast-agent ...` command line in the docs (code blocks and
  inline code) names subcommands that the binary's --help lists (nested ones too, e.g.
  `holdfast job create`), and every option on it appears in the --help of the deepest
  subcommand named. A line that says the command is "planned" or
  "not built" is skipped (that is how the docs mention what does not exist yet).
- Every repository path the docs mention (`systemd/...`, `ansible/...`, ...) exists.
- Every relative Markdown link points at an existing file (and #anchor, if given).

Usage: check_commands.py --bin-dir DIR
"""

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BINARIES = ("holdfast", "holdfast-agent")
ROOTS = ("systemd/", "ansible/", "orchestrator/", "agent/", "protocol/", "kmod-interface/", "docs/", ".ci/")
STOP = {"|", "||", "&&", ";", ">", ">>", "<", "2>&1"}

failures = []
checked = 0


def help_of(bin_dir, binary, sub=None):
    """--help of `binary`, or of its subcommand path `sub` (a tuple, e.g. ("job", "create"))."""
    cmd = [str(bin_dir / binary)] + list(sub or ()) + ["--help"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return r.stdout if r.returncode == 0 else None


def subcommands(help_text):
    out, inside = set(), False
    for line in help_text.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)", line)
            if m:
                out.add(m.group(1))
            elif line.strip() == "" or not line.startswith(" "):
                inside = False
    return out


def code_lines(text):
    """(line number, code) for fenced code lines and inline code spans."""
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            yield n, line, line
        else:
            for span in re.findall(r"`([^`]+)`", line):
                yield n, span, line


def invocations(tokens):
    """(binary, arguments) for each Holdfast binary in command position: first word,
    after a shell operator, after `sudo` or `ssh HOST`; quoted arguments that hold a
    command (e.g. ansible's -a '...') are searched too."""
    out = []
    for i, tok in enumerate(tokens):
        if " " in tok:
            try:
                out += invocations(shlex.split(tok))
            except ValueError:
                pass
            continue
        name = tok.rsplit("/", 1)[-1]
        if name not in BINARIES:
            continue
        before = tokens[i - 1] if i > 0 else None
        if not (i == 0 or before in STOP or before == "sudo" or (i >= 2 and tokens[i - 2] == "ssh")):
            continue
        rest = []
        for t in tokens[i + 1:]:
            if t in STOP:
                break
            rest.append(t)
        out.append((name, rest))
    return out


def anchors(md):
    out = set()
    for line in md.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


def main():
    global checked
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True, type=Path)
    args = ap.parse_args()
    helps = {}
    for b in BINARIES:
        top = help_of(args.bin_dir, b)
        if top is None:
            print(f"cannot run {args.bin_dir / b} --help")
            return 2
        helps[(b, None)] = top
    for md in sorted(DOCS.glob("*.md")):
        text = md.read_text()
        rel = md.relative_to(REPO)
        for n, code, whole in code_lines(text):
            planned = re.search(r"planned|not built|being built", whole, re.I)
            try:
                tokens = shlex.split(code, comments=True)
            except ValueError:
                tokens = code.split()
            for name, rest in invocations(tokens):
                if planned:
                    continue
                checked += 1
                where = f"{rel}:{n}: `{code.strip()}`"
                # Descend through nested subcommands (`job create`, `protection-group
                # snapshot list`): the first word is a subcommand when the binary has
                # any; deeper words are when the level above lists subcommands.
                path, key, bad = (), (name, None), False
                for word in rest:
                    if word.startswith("-"):
                        break
                    subs = subcommands(helps[key])
                    if not subs:
                        break
                    if word not in subs:
                        failures.append(f"{where}: `{' '.join((name,) + path + (word,))}` is not a subcommand of {' '.join((name,) + path)}")
                        bad = True
                        break
                    path += (word,)
                    key = (name, path)
                    if key not in helps:
                        helps[key] = help_of(args.bin_dir, name, path) or ""
                if bad:
                    continue
                for opt in (t for t in rest if t.startswith("-")):
                    flag = opt.split("=", 1)[0]
                    if not re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=<]|$)", helps[key], re.M):
                        failures.append(f"{where}: option {flag} is not in `{' '.join((name,) + path)} --help`")
            for path in re.findall(r"(?<![\w/.-])((?:%s)[\w./-]*)" % "|".join(map(re.escape, ROOTS)), code):
                path = path.rstrip(".,:")
                if "<" in path or "*" in path:
                    continue
                checked += 1
                if not (REPO / path).exists():
                    failures.append(f"{rel}:{n}: path {path} does not exist")
        for n, line in enumerate(text.splitlines(), 1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"^[a-z]+:", target):
                    continue
                file, _, anchor = target.partition("#")
                dest = (md.parent / file) if file else md
                checked += 1
                if not dest.exists():
                    failures.append(f"{rel}:{n}: link {target} points nowhere")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    failures.append(f"{rel}:{n}: link {target}: no heading #{anchor} in {file or md.name}")
    for f in failures:
        print(f"  FAIL {f}")
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
