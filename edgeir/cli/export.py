"""``edgeir export``: one target, verified, with its manifest."""

from __future__ import annotations

import argparse
import json

from edgeir.cli.common import add_model_options, parse_size, setup_logging
from edgeir.export.targets import TARGETS
from edgeir.shapes import DEFAULT_RANGE

TARGET_OPTIONS = (
    "opset", "calib", "calib_frames", "calib_method", "keep_fp32", "int8_scheme", "max_psnr_drop",
    "workspace", "timing_cache", "shapes", "precision", "image_input", "quant",
)
"""Target-specific options: passed only when given, so a target that does not take one
refuses it instead of ignoring it."""


def run(args: argparse.Namespace) -> int:
    from edgeir.export import export

    setup_logging()
    result = export(
        args.target,
        variant=args.variant,
        task=args.task,
        weights=args.weights,
        output=args.output,
        shape=args.shape,
        dynamic=args.dynamic,
        batch=args.batch,
        overwrite=args.overwrite,
        **{name: getattr(args, name) for name in TARGET_OPTIONS},
    )
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    parity = summary["parity"]
    if summary["status"] == "onnx-only":
        print(f"{summary['target']} ({summary['precision']}): engine not built here ({summary['why']})")
    else:
        print(f"{summary['target']} ({summary['precision']}): {summary['artifact']}")
    if "onnx" in summary:
        print(f"  onnx      {summary['onnx']} (TRT-ready)")
    print(f"  manifest  {summary['manifest']}")
    print(f"  parity    max abs {parity['max_abs']:.2e}, PSNR {parity['psnr_db']} dB "
          f"vs {parity['reference']}")
    print(f"  weights   {summary['weights']}")
    details = result.manifest.details
    if "psnr_vs_fp32_graph_db" in details and "calibration" in details:
        scheme = f"{details['scheme_summary']}; " if "scheme_summary" in details else ""
        print(f"  int8      {scheme}{details['psnr_vs_fp32_graph_db']} dB vs the FP32 graph on "
              f"{details['psnr_measured_on']}")
    if "psnr_vs_fp32_pytorch_db" in details:
        worst = (f" (worst frame {details['psnr_vs_fp32_pytorch_min_db']} dB)"
                 if "psnr_vs_fp32_pytorch_min_db" in details else "")
        print(f"  8-bit     {details['psnr_vs_fp32_pytorch_db']} dB{worst} vs FP32 in PyTorch on "
              f"{details['psnr_measured_on']}")
    if "calibration" in details:
        method = f", {details['calibration_method']} ranges" if "calibration_method" in details else ""
        print(f"  calib     {details['calibration']['frames']} frames of {details['calibration']['source']}{method}")
    if "kept_fp32" in details:
        left = details.get("higher_precision_convolutions")
        count = f" ({len(left)} convolution(s) in higher precision)" if left is not None else ""
        print(f"  fp32      kept {', '.join(details['kept_fp32']) or 'nothing'}{count}")
    if "fp32_node_count" in details:
        kept = ", ".join(f"{op} x{n}" for op, n in details["fp32_node_count"].items()) or "nothing"
        print(f"  fp32 ops  {kept} (everything else {'FP16' if summary['precision'] == 'fp16' else 'INT8 or FP16'})")
    if "cpu_check" in details:
        cpu = details["cpu_check"]
        print(f"  cpu check {cpu['psnr_vs_fp32_graph_db']} dB vs the FP32 graph in ONNX Runtime, "
              f"{cpu['psnr_fp16_emulated_db']} dB with FP16 storage emulated; TensorRT check "
              f"{'passed' if details['tensorrt']['compatibility']['ok'] else 'FAILED'}")
    if "program" in details:
        program = details["program"]
        print(f"  program   {sum(program['compute'].values())} ops computing in "
              f"{program['compute_dtype']}, {program['weights_8bit']} 8-bit weight tensors, "
              f"{program['activation_quantize_ops']} activation quantize ops; needs "
              f"{details['minimum_deployment_target']}")
        coreml = details.get("coreml_parity")
        print(f"  core ml   {coreml['psnr_db']} dB vs PyTorch" if coreml else
              "  core ml   not run here: Core ML predicts only on macOS")
    if summary["status"] == "onnx-only":
        print(f"  build it on the device:\n    {summary['build_engine']}\n  or:\n    {summary['trtexec']}")
    if "max_psnr_drop_db" in details:
        verdict = "within budget" if details["within_budget"] else "OVER BUDGET: NNCF could not meet it"
        print(f"  budget    PSNR drop {details['psnr_drop_db']} dB vs sharp frames, budget "
              f"{details['max_psnr_drop_db']} dB: {verdict}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a ConvIR to a deployment target, verified against PyTorch",
        description="Export the export-friendly ConvIR to a target, check that the artifact "
        "computes what PyTorch computes, and write it atomically with a manifest beside it. "
        "Targets: " + "; ".join(f"{t.name}: {t.summary}" for t in TARGETS.values()),
    )
    parser.add_argument("--target", required=True, choices=list(TARGETS), help="what to produce")
    add_model_options(parser)
    parser.add_argument("--weights", metavar="PATH|demo|random", help="checkpoint to export; "
                        "'demo' for the packaged demo weights, 'random' for random initialisation "
                        "(default: the demo weights for S motion-deblur, random initialisation "
                        "elsewhere; the output and the manifest say which)")
    shapes = parser.add_mutually_exclusive_group()
    shapes.add_argument("--shape", type=parse_size, metavar="HxW",
                        help="static input size (must be legal: see edgeir info)")
    shapes.add_argument(
        "--dynamic", nargs="?", const=DEFAULT_RANGE, metavar="MIN:OPT:MAX",
        help="dynamic batch/height/width (the default, except for Core ML), e.g. "
        "256x256:736x1280:1088x1920 or MIN:MAX; without a value: the task's smallest legal "
        "square to 1088x1920, opt 736x1280. Core ML: range dims, OPT the default shape",
    )
    shapes.add_argument(
        "--shapes", metavar="HxW,HxW,...",
        help="Core ML: exactly these sizes (enumerated shapes, which can run on the Neural "
        "Engine at each; the first is the default). Default for coreml targets: "
        "736x1280,256x256,512x512,1088x1920",
    )
    parser.add_argument("--batch", type=int, default=1,
                        help="batch of a static graph; the batch a dynamic one is planned for "
                        "(default: 1)")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (onnx targets; default: 17)")
    int8 = parser.add_argument_group("INT8 targets")
    int8.add_argument("--calib", metavar="SOURCE",
                      help="calibration frames: calib.npz (edgeir calib), an image folder, a video, "
                      "gopro:DIR, or synthetic (the default: the synthetic calib split; your own "
                      "camera frames fit better). A quarter is held out to measure the INT8 loss")
    int8.add_argument("--calib-frames", type=int, default=None, metavar="N",
                      help="frames to take from an image folder, video or synthetic (default: 32)")
    int8.add_argument("--calib-method", choices=["minmax", "entropy", "percentile"], default=None,
                      help="how activation ranges are set (default: minmax; trt-int8 takes "
                      "minmax or entropy)")
    int8.add_argument("--keep-fp32", nargs="+", default=None, metavar="NODE_OR_OP_TYPE",
                      help="leave these unquantized: node names, scopes such as /Decoder.2, or op "
                      "types as the runtime names them (ONNX: Conv; OpenVINO: Convolution). For "
                      "openvino-int8 it replaces the default, the dynamic-filter module of the last "
                      "full-resolution decoder block, which NNCF's INT8 hurts most; 'none' quantizes "
                      "that too")
    int8.add_argument("--max-psnr-drop", type=float, default=None, metavar="DB",
                      help="openvino-int8: NNCF accuracy control keeps the PSNR drop against the "
                      "sharp frames within DB (needs --calib synthetic, gopro:DIR or pairs:...)")
    int8.add_argument("--int8-scheme", choices=["cpu", "trt"], default=None,
                      help="onnx-int8: cpu = uint8 activations, fastest on ONNX Runtime (default); "
                      "trt = symmetric int8 with zero points 0, what TensorRT accepts")
    trt = parser.add_argument_group("TensorRT targets")
    trt.add_argument("--workspace", type=int, default=None, metavar="MB",
                     help="TensorRT builder workspace (default: 4096 MB)")
    trt.add_argument("--timing-cache", metavar="PATH",
                     help="TensorRT timing cache: read if it exists, written after the build, so "
                     "rebuilds on the same GPU are faster")
    coreml = parser.add_argument_group("Core ML targets")
    coreml.add_argument("--precision", choices=["fp16", "fp32"], default=None,
                        help="coreml: compute precision of the ML program (default: fp16, what "
                        "the GPU and Neural Engine run)")
    coreml.add_argument("--image-input", action="store_true", default=None,
                        help="take and return RGB images (input scaled by 1/255) instead of float "
                        "tensors, so an iOS camera pipeline can feed pixel buffers directly")
    coreml.add_argument("--quant", choices=["w8", "w8a8"], default=None,
                        help="coreml-int8: w8 = 8-bit weights, FP16 compute (default); w8a8 = "
                        "8-bit weights and activations, calibrated in PyTorch on --calib frames "
                        "(iOS 17 / macOS 14; int8 compute on the Neural Engine of A17 Pro / M4 "
                        "and later)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="artifact path (default: convir-VARIANT_TASK_TARGET.SUFFIX here)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing artifact, its manifest and companion files "
                        "(refused without it, before any work)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)
