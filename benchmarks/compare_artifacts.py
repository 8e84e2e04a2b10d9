"""Whether two sets of exports hold the same graphs and weights, apart from the manifest
each one embeds (which carries its creation time).

    python benchmarks/compare_artifacts.py BEFORE_DIR AFTER_DIR

Every ``.onnx`` and ``.xml`` found in BEFORE_DIR is compared with the file of the same name
in AFTER_DIR: the whole file, and the graph without what edgeir embeds (ONNX
``metadata_props`` and doc strings; OpenVINO's ``<edgeir>`` block of ``rt_info``), and the
OpenVINO ``.bin`` whole. Used to show that a refactor of the export side changed no artifact.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def onnx_without_metadata(path: Path) -> str:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.doc_string = model.graph.doc_string = ""
    return _sha(model.SerializeToString())


def xml_without_edgeir(path: Path) -> str:
    return _sha(re.sub(r"<edgeir>.*?</edgeir>", "", path.read_text(), flags=re.S).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    print("| artifact | whole file | without the embedded manifest | weights (.bin) |")
    print("|---|---|---|---|")
    for old in sorted([*args.before.glob("*.onnx"), *args.before.glob("*.xml")]):
        new = args.after / old.name
        if not new.exists():
            print(f"| {old.name} | missing after | | |")
            continue
        whole = "same" if _sha(old.read_bytes()) == _sha(new.read_bytes()) else "differs"
        core = (onnx_without_metadata if old.suffix == ".onnx" else xml_without_edgeir)
        inner = "same" if core(old) == core(new) else "DIFFERS"
        weights = ""
        if old.suffix == ".xml":
            weights = "same" if _sha(old.with_suffix(".bin").read_bytes()) == _sha(new.with_suffix(".bin").read_bytes()) \
                else "DIFFERS"
        print(f"| {old.name} | {whole} | {inner} | {weights} |")


if __name__ == "__main__":
    main()
