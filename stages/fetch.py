"""DVC stage fetch_vader: download the vaderSentiment source distribution (its rated sentences).

python stages/fetch.py data/raw
"""

import argparse
from pathlib import Path

import _common
from pipeline.data.vader import fetch_sdist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    print(f"saved {fetch_sdist(args.out_dir)}")


if __name__ == "__main__":
    _common.run(main)
