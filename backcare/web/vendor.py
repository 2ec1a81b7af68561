"""The front-end libraries the web app ships, copied from node_modules (npm ci) by `make web-assets`.

Plain Python with no Django import, so the Makefile can run it with any python3:
    python3 backcare/web/vendor.py
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "web" / "vendor"

# Vendored file name -> its source inside node_modules (versions pinned in package-lock.json).
VENDORED = {
    "idb.js": "idb/build/index.js",
    "idb.LICENSE.txt": "idb/LICENSE",
    "uPlot.esm.js": "uplot/dist/uPlot.esm.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
    "uPlot.LICENSE.txt": "uplot/LICENSE",
}


def copy() -> None:
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, source in VENDORED.items():
        shutil.copyfile(NODE_MODULES / source, VENDOR_DIR / name)
        print(f"{source} -> {(VENDOR_DIR / name).relative_to(ROOT)}")


if __name__ == "__main__":
    if not NODE_MODULES.is_dir():
        sys.exit("node_modules/ is missing: run `npm ci` first")
    copy()
