"""Shared by the benchmark scripts (run from this folder's parent: python benchmarks/X.py)."""

from __future__ import annotations

import re
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from edgeir.bench.machine import cpu_name

__all__ = ["activate_dynamic_branches", "cpu_name", "onnxruntime_op_times", "openvino_op_times", "print_op_table"]


def activate_dynamic_branches(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-zero gains for the dynamic filters (zero at init), as in a trained model, so
    that every path does its real work; speed does not depend on the values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("lamb_l", "lamb_h", "gamma", "inside_all")):
                param.copy_(torch.rand(param.shape, generator=generator) - 0.5)
    return model


def openvino_op_times(xml: Path, x: np.ndarray, repeats: int, static: bool = False) -> dict[str, float]:
    """Milliseconds per OpenVINO op type and kernel precision (f32 pinned), summed over the
    graph, median of ``repeats`` runs: where the time of one frame goes."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    if static:  # as edgeir's OpenVINO backend compiles it for this input
        model.reshape(list(x.shape))
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERF_COUNT": True})
    request = compiled.create_infer_request()
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        request.infer(x)
        spent: dict[str, float] = {}
        for item in request.get_profiling_info():
            if item.status != item.Status.EXECUTED:
                continue
            precision = "int8" if re.search("[IU]8", item.exec_type.upper()) else "f32"
            key = f"{item.node_type} ({precision})"
            spent[key] = spent.get(key, 0.0) + item.real_time.total_seconds() * 1000
        runs.append(spent)
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[-1]}


def onnxruntime_op_times(path: Path, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Milliseconds per ONNX Runtime kernel (op type after its graph fusions, e.g.
    QLinearConv), from its profiler, median of ``repeats`` runs."""
    import json

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(repeats):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs: list[dict[str, float]] = [{} for _ in range(repeats)]
    run = -1
    for event in events:
        if event.get("name") == "model_run":
            continue
        if event.get("cat") == "Session" and event.get("name") == "SequentialExecutor::Execute":
            run += 1
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and 0 <= run < repeats:
            key = event["args"]["op_name"]
            runs[run][key] = runs[run].get(key, 0.0) + event["dur"] / 1000
    return {key: statistics.median(r.get(key, 0.0) for r in runs) for key in set().union(*runs)}


def print_op_table(title: str, profiles: dict[str, dict[str, float]]) -> None:
    keys = sorted(set().union(*profiles.values()), key=lambda k: -max(p.get(k, 0) for p in profiles.values()))
    print(f"{title}, ms per frame:\n")
    print(f"| op type | {' | '.join(profiles)} |")
    print("|---" * (len(profiles) + 1) + "|")
    for key in keys[:12]:
        cells = [f"{profiles[n].get(key, 0.0):.0f}" for n in profiles]
        print(f"| {key} | {' | '.join(cells)} |")
    totals = [f"{sum(p.values()):.0f}" for p in profiles.values()]
    print(f"| all | {' | '.join(totals)} |\n")
