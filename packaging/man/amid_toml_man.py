#!/usr/bin/env python3
"""amid.toml(5), the man page, from configs/amid.toml, the config reference.

Usage: amid_toml_man.py CONFIG VERSION > amid.toml.5

The file is read as it is laid out: blocks of lines parted by blank lines.
A block that opens with [section] starts that section. A block that ends in
`key = value` is a key set to its default; one whose last line is
`# key = value` is a key whose default amid works out (the comment says how),
shown commented out. A block with `# [table.name]` lines is a commented
example of tables (the [regions.NAME] ones): its prose and its keys. Any
other block is prose about its section. The comments above a key are its
description. Fails (exit 1) on a line it cannot place, so the page never
silently drops a key.
"""
import re
import sys

SECTION = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\s*$")
KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$")
TABLE = re.compile(r"^\[([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\]$")


def comment_text(line):
    """'# text' -> 'text'; '#' -> ''; None for a line that is no comment."""
    if not line.startswith("#"):
        return None
    return line[2:] if line.startswith("# ") else line[1:]


def roff(text):
    """A line of text for roff: backslashes escaped, no leading request dot."""
    text = text.replace("\\", "\\e")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def roff_lines(lines):
    """Comment lines as roff: an empty one starts a new paragraph."""
    out = []
    for line in lines:
        out.append(".IP" if line == "" and out else roff(line))
    while out and out[-1] == ".IP":
        out.pop()
    return out


def parse(path):
    """-> (intro lines, [(section, [items])]); an item is a dict with 'kind'."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    blocks, block = [], []
    for number, line in enumerate(lines, 1):
        if line.strip() == "":
            if block:
                blocks.append(block)
            block = []
        else:
            block.append((number, line.strip()))
    if block:
        blocks.append(block)

    intro, sections = [], []
    for block in blocks:
        m = SECTION.match(block[0][1])
        if m:
            sections.append((m.group(1), []))
            block = block[1:]
            if not block:
                continue
        if not sections:
            intro += [comment_text(line) or "" for _, line in block]
            continue
        items = sections[-1][1]
        texts = [comment_text(line) for _, line in block]
        number, last = block[-1]
        if any(t is None for t in texts[:-1]):
            sys.exit(f"{path}:{number}: a key line inside a comment block: cannot place it")
        if texts[-1] is None:
            m = KEY.match(last)
            if not m:
                sys.exit(f"{path}:{number}: neither a comment nor key = value: {last}")
            items.append({"kind": "key", "key": m.group(1), "value": m.group(2),
                          "commented": False, "text": texts[:-1]})
            continue
        table_at = next((i for i, t in enumerate(texts) if TABLE.match(t)), None)
        if table_at is not None:
            example = texts[table_at:]
            keys = {}
            for t in example:
                m = KEY.match(t)
                if m:
                    keys.setdefault(m.group(1), m.group(2))
            items.append({"kind": "table", "name": TABLE.match(texts[table_at]).group(1) + ".NAME",
                          "text": texts[:table_at], "example": example, "keys": keys})
            continue
        m = KEY.match(texts[-1])
        if m:
            items.append({"kind": "key", "key": m.group(1), "value": m.group(2),
                          "commented": True, "text": texts[:-1]})
        else:
            items.append({"kind": "prose", "text": texts})
    return intro, sections


def write_page(intro, sections, version, out):
    w = out.write
    w(".\\\" Generated from configs/amid.toml by packaging/man/amid_toml_man.py; do not edit.\n")
    w(f'.TH AMID.TOML 5 "" "amid {version}" "File Formats"\n')
    w(".SH NAME\namid.toml \\- configuration of amid, the local EC2\\-style image and instance service\n")
    w(".SH SYNOPSIS\n.I /etc/amid/amid.toml\n")
    w(".SH DESCRIPTION\n")
    w(".BR amid (8)\nreads a TOML file: the one that \\fB\\-\\-config\\fR names (the system's service\n"
      "passes \\fI/etc/amid/amid.toml\\fR). Each key below is shown as the shipped file\n"
      "has it, which is amid's default; a key shipped commented out has a default that\n"
      "amid works out at start, as its description says.\n.PP\n")
    w("\n".join(roff_lines([t for t in intro])) + "\n")
    w(".SH KEYS\n")
    tables = []
    for section, items in sections:
        w(f".SS [{section}]\n")
        for item in items:
            if item["kind"] == "prose":
                w(".PP\n" + "\n".join(roff_lines(item["text"])) + "\n")
            elif item["kind"] == "key":
                w(f".TP\n.B {item['key']}\n")
                if item["text"]:
                    w("\n".join(roff_lines(item["text"])) + "\n")
                if item["commented"]:
                    w(f".IP\nShipped commented out: \\fB{item['key']} = {roff(item['value'])}\\fR.\n")
                else:
                    w(f".IP\nShipped as: \\fB{item['key']} = {roff(item['value'])}\\fR.\n")
            else:
                tables.append(item)
    for table in tables:
        w(f".SS [{table['name']}]\n")
        w(".PP\n" + "\n".join(roff_lines(table["text"])) + "\n")
        for key, value in table["keys"].items():
            w(f".TP\n.B {key}\nFor example: \\fB{roff(value)}\\fR.\n")
        w(".PP\nFor example:\n.PP\n.EX\n" + "\n".join(roff(t) for t in table["example"]) + "\n.EE\n")
    w(".SH FILES\n.TP\n.I /etc/amid/amid.toml\nThe system's amid configuration (a conffile).\n"
      ".TP\n.I /usr/share/amid/instance\\-types.toml\nThe built\\-in instance types, as a file to start from "
      "(\\fBinstance_types\\fR).\n")
    w(".SH SEE ALSO\n.BR amid (8),\n.BR amictl (1)\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: amid_toml_man.py CONFIG VERSION")
    intro, sections = parse(sys.argv[1])
    if not sections:
        sys.exit(f"{sys.argv[1]}: no [section]")
    write_page(intro, sections, sys.argv[2], sys.stdout)


if __name__ == "__main__":
    main()
