"""Build a real English -> French sentence-pair file (a few thousand pairs) for the translate
task: the human translations of the user-interface and documentation messages that Django,
Wagtail and Sphinx ship as gettext catalogues (``.po``) in their wheels on PyPI.

    python benchmarks/po_pairs.py --out /tmp/en-fr.tsv
    dvc exp run -S prepare.translate.source=local -S prepare.translate.path=/tmp/en-fr.tsv \\
        -S prepare.translate.min_frequency=2

Each line is ``English<TAB>French<TAB>package``, the Tatoeba/ManyThings layout the local
source reads. Entries marked fuzzy, untranslated, plural forms and duplicates are left
out; line breaks inside a message become spaces.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {"django": "5.2.19", "wagtail": "8.0.1", "sphinx": "9.0.4"}
ESCAPES = {"n": " ", "t": " ", '"': '"', "\\": "\\"}


def _unquote(fragment: str) -> str:
    body = fragment.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


def parse_po(text: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of every translated, non-fuzzy, singular entry of a .po file."""
    pairs = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip().splitlines()
        if any(line.startswith("#,") and "fuzzy" in line for line in lines) or any(line.startswith("msgid_plural") for line in lines):
            continue
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgctxt|msgid|msgstr)\s+(".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = _unquote(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += _unquote(line)
        source, target = " ".join(fields.get("msgid", "").split()), " ".join(fields.get("msgstr", "").split())
        if source and target:
            pairs.append((source, target))
    return pairs


def build(out: Path, language: str) -> int:
    rows: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package, version in WHEELS.items():
            cmd = [sys.executable, "-m", "pip", "download", f"{package}=={version}", "--no-deps", "--only-binary", ":all:", "-q", "-d", tmp]
            subprocess.run(cmd, check=True)
            [wheel] = Path(tmp).glob(f"{package}-{version}-*.whl")
            with zipfile.ZipFile(wheel) as archive:
                for name in sorted(n for n in archive.namelist() if f"/{language}/LC_MESSAGES/" in n and n.endswith(".po")):
                    for source, target in parse_po(archive.read(name).decode("utf-8")):
                        rows.setdefault(source, (target, package))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{s}\t{t}\t{p}\n" for s, (t, p) in rows.items()), encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--language", default="fr")
    args = parser.parse_args()
    count = build(args.out, args.language)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(f"wrote {args.out}: {count:,} English -> {args.language} pairs, sha256 {digest}")


if __name__ == "__main__":
    main()
