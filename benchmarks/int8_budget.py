"""--max-psnr-drop on onnx-int8 and trt-int8: what the budget keeps, the drop reached, and
the speed of the budgeted onnx-int8 graphs against FP32 ONNX, measured interleaved.

ConvIR-S with the demo weights at a static 256x256, calibrated on the default frames (32
synthetic calib frames, the last 8 held out). Every export is timed; the ONNX graphs are
then run interleaved on one frame (medians), and their PSNR against the sharp frames is
taken on synthetic eval frames the exports never saw. trt-int8's drop is the export's own,
with FP16 storage emulated (its speed needs a GPU). Run alone on the machine:

    python benchmarks/int8_budget.py [--budgets 0.1 0.01] [--trt]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name

from edgeir.bench.machine import cpu_features
from edgeir.data.synthetic import SyntheticBlur
from edgeir.export import export
from edgeir.export.parity import compare
from edgeir.runtimes import load
from edgeir.runtimes.frames import to_chw

SIZE = (256, 256)


def _export(target: str, folder: Path, name: str, **options: object) -> tuple[object, float]:
    suffix = ".engine" if target.startswith("trt") else ".onnx"
    start = time.perf_counter()
    result = export(target, output=folder / f"{name}{suffix}", shape=SIZE, **options)
    return result, time.perf_counter() - start


def _budget_row(name: str, result: object, seconds: float) -> str:
    details = result.manifest.details  # type: ignore[attr-defined]
    search = details.get("budget_search", {})
    kept = details.get("higher_precision_convolutions", [])
    tried = ", ".join(f"{t['restored']}: {t['psnr_drop_db']}" for t in search.get("tried", []))
    first = kept[0] if kept else "-"
    return (f"| {name} | {details.get('psnr_drop_db', '-')} | {len(kept)} of "
            f"{search.get('quantized_convolutions', '-')} | {first} | {tried or '-'} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--frames", type=int, default=8, help="synthetic eval frames for PSNR")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--trt", action="store_true", help="also trt-int8 with each budget")
    args = parser.parse_args()

    print(f"ConvIR-S, demo weights, static 1x3x{SIZE[0]}x{SIZE[1]}; {cpu_name()}; "
          f"{' '.join(f for f in cpu_features() or [] if f.startswith(('avx', 'amx')))}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        graphs: dict[str, Path] = {}
        rows = []
        fp32, _ = _export("onnx", folder, "fp32")
        graphs["onnx"] = fp32.artifact
        plain, seconds = _export("onnx-int8", folder, "int8")
        graphs["onnx-int8"] = plain.artifact
        rows.append(_budget_row("onnx-int8 (no budget)", plain, seconds))
        for budget in args.budgets:
            name = f"onnx-int8 --max-psnr-drop {budget}"
            result, seconds = _export("onnx-int8", folder, f"int8-{budget}", max_psnr_drop=budget)
            graphs[name] = result.artifact
            rows.append(_budget_row(name, result, seconds))
        if args.trt:
            for budget in args.budgets:
                result, seconds = _export("trt-int8", folder, f"trt-{budget}", max_psnr_drop=budget)
                rows.append(_budget_row(f"trt-int8 --max-psnr-drop {budget} (FP16 emulated)", result, seconds))

        print("| export | drop dB (held-out calib frames) | convolutions returned | first returned | "
              "tried (returned: drop dB) | export s |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows) + "\n")

        runtimes = {name: load(path) for name, path in graphs.items()}
        pairs = [(to_chw(b)[0][None], to_chw(s)[0][None]) for b, s in SyntheticBlur("eval", SIZE, length=args.frames)]
        x = pairs[0][0]
        for runtime in runtimes.values():
            runtime(x)
        times: dict[str, list[float]] = {name: [] for name in runtimes}
        for _ in range(args.repeats):
            for name, runtime in runtimes.items():
                start = time.perf_counter()
                runtime(x)
                times[name].append(time.perf_counter() - start)
        reference = [np.clip(runtimes["onnx"](b), 0, 1) for b, _ in pairs]
        sharp_ref = statistics.mean(compare(s, r)["psnr_db"] for (_, s), r in zip(pairs, reference))
        base = statistics.median(times["onnx"])
        print(f"| graph | median ms | speed-up vs FP32 | PSNR vs sharp dB ({args.frames} eval frames) | drop dB |")
        print("|---|---|---|---|---|")
        for name, runtime in runtimes.items():
            sharp = statistics.mean(compare(s, np.clip(runtime(b), 0, 1))["psnr_db"] for b, s in pairs)
            ms = statistics.median(times[name])
            print(f"| {name} | {ms * 1000:.0f} | {base / ms:.2f}x | {sharp:.3f} | {sharp_ref - sharp:+.3f} |")
        for runtime in runtimes.values():
            runtime.close()


if __name__ == "__main__":
    main()
