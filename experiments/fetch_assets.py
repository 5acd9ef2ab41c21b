"""Fetch solara's front-end files into the virtual environment, once, so the explorer works offline.

    .venv/bin/python experiments/fetch_assets.py [FOLDER]   # default: <venv>/solara-assets

`make assets` (and so `make app` and the browser tests) runs it; see `experiments.explorer.assets`.
"""

import sys

from experiments.explorer.assets import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
