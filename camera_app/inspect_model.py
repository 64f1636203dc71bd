"""``camera-app inspect``: what a model is, whether this pipeline runs it, and why.

Reads everything from the model itself: tensors, ops (before delegation), the recognised
output layout, labels, float islands, custom ops, the score cap of a quantized sigmoid; then
runs it on two probe inputs and a full detection, flagging outputs that look broken.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict
from typing import Any

import numpy as np

from camera_app.detect.detector import Detector, DetectorOptions
from camera_app.detect.families import recognise, survey
from camera_app.detect.family import Layout, Miss, ModelView, Refuse
from camera_app.detect.graph import GraphInfo, TensorInfo, custom_ops, float_islands
from camera_app.detect.layout import Probe, layout_kind
from camera_app.detect.metadata import read_metadata
from camera_app.detect.model import (
    LoadedModel,
    _probe_inputs,
    check_input,
    expose_quantized_scores,
    new_interpreter,
    read_graph,
    read_model_bytes,
    resolve_model,
    run_interpreter,
)
from camera_app.detect.ssd_postprocess import PostProcessLayout
from camera_app.detect.ssd_raw import RawLayout
from camera_app.errors import ModelError
from camera_app.runtime import load_runtime


def _tensor(t: TensorInfo) -> dict[str, Any]:
    d = asdict(t)
    d["shape"] = list(t.shape)
    d["quantized"] = t.quantized
    return d


def _ops_summary(graph: GraphInfo) -> dict[str, Any]:
    by_name = Counter(op.name for op in graph.ops)
    by_dtype: Counter[str] = Counter()
    for op in graph.ops:
        for i in op.outputs:
            if i in graph.tensors:
                by_dtype[graph.tensors[i].dtype] += 1
    return {
        "count": len(graph.ops),
        "by_name": dict(sorted(by_name.items(), key=lambda kv: (-kv[1], kv[0]))),
        "output_dtypes": dict(by_dtype),
        "custom": custom_ops(graph),
    }


def _verdict(name: str, v: Layout | Miss | Refuse) -> dict[str, Any]:
    if isinstance(v, Refuse):
        return {"family": name, "verdict": "refuses", "why": v.reason}
    if isinstance(v, Miss):
        return {"family": name, "verdict": "no", "why": v.reason}
    return {"family": name, "verdict": "recognises", "why": v.describe()}


def input_levels(detector: Detector) -> dict[str, Any] | None:
    """How many of the input dtype's 256 levels the 256 pixel values really reach."""
    q = detector.input_quant
    if q.dtype.value == "float32":
        return None
    table = np.asarray(detector.preprocessor.table).astype(np.int64)
    used = int(np.unique(table).size)
    bits = float(np.log2(max(used, 2)))
    detail = (
        f"the {q.dtype.value} input (scale {q.scale:.6g}, zero point {q.zero_point}) receives "
        f"(pixel - {q.mean:g}) / {q.std:g} as levels {int(table.min())}..{int(table.max())}: "
        f"{used} of 256 levels, about {bits:.1f} of 8 bits"
    )
    if used < 200:
        detail += (
            f"; about {256 / used:.1f} neighbouring pixel values share one level, which blurs "
            "fine detail and costs accuracy; a re-export with a proper calibration set (real "
            "images, normalized as the app feeds them) gives the input its full range"
        )
    return {"used": used, "of": 256, "bits": round(bits, 2), "ok": used >= 200, "detail": detail}


def output_quantization(model: LoadedModel, detector: Detector) -> dict[str, Any] | None:
    """Whether the score tensor's own quantization caps or coarsens the scores."""
    t = model.graph.tensors.get(detector.decoder.score_tensor)
    if t is None or (rng := t.real_range()) is None:
        return None
    cap = min(rng[1], 1.0)
    ok = cap >= 0.9 and t.scale <= 0.01
    detail = (
        f"scores in {t.describe()} range over [{rng[0]:.3g}, {rng[1]:.3g}] in steps of "
        f"{t.scale:.3g}"
    )
    if cap < 0.9:
        detail += f": no score can exceed {cap:.3f}, a threshold above it never matches"
    elif t.scale > 0.01:
        detail += ": coarse steps, nearby scores become equal"
    return {"cap": round(cap, 4), "step": t.scale, "ok": ok, "detail": detail}


def _self_test(model: LoadedModel, detector: Detector) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    anchors = model.layout.anchors if isinstance(model.layout, RawLayout) else None
    layout = model.layout
    for t in model.graph.outputs:
        vals = [np.asarray(p[t.index], np.float64) for p in model.probes]
        if isinstance(layout, PostProcessLayout) and t.index != layout.count.index:
            # Slots past `count` are not written by the op (LiteRT leaves old or
            # uninitialised memory there): only the first `count` entries mean anything.
            counts = [int(np.ravel(p[layout.count.index])[0]) for p in model.probes]
            vals = [v[0, :n] for v, n in zip(vals, counts, strict=True)]
        name = f"output '{t.name}'"
        if any(not np.all(np.isfinite(v)) for v in vals):
            checks.append({"check": f"{name} finite", "ok": False, "detail": "NaN or Inf"})
            continue
        if anchors is not None and t.index == anchors.index:
            continue  # anchors are meant to be constant
        if isinstance(layout, PostProcessLayout):
            continue  # few or no detections on probe inputs is normal for the op
        if all(np.all(v == 0) for v in vals):
            checks.append({"check": f"{name} non-zero", "ok": False, "detail": "all zeros"})
        elif np.array_equal(vals[0], vals[1]):
            checks.append(
                {"check": f"{name} depends on the input", "ok": False,
                 "detail": "identical output for two different inputs"}
            )  # fmt: skip
        else:
            checks.append({"check": f"{name} sane", "ok": True, "detail": "finite, varies"})
    levels = input_levels(detector)
    if levels is not None:
        checks.append({"check": "input levels", "ok": levels["ok"], "detail": levels["detail"]})
    outq = output_quantization(model, detector)
    if outq is not None:
        checks.append({"check": "output quantization", "ok": outq["ok"], "detail": outq["detail"]})
    cap = detector.score_cap
    checks.append(
        {"check": "score range", "ok": cap is None or cap.cap >= 0.9,
         "detail": cap.explain() if cap else "no quantization limit on scores found"}
    )  # fmt: skip
    frame = np.full((480, 640, 3), 128, np.uint8)
    det = detector.detect(frame)
    checks.append(
        {"check": "full detection on a grey frame", "ok": True,
         "detail": f"{len(det)} detections above {detector.thresholds.score}"}
    )  # fmt: skip
    return checks


def _detector_report(
    report: dict[str, Any], model: LoadedModel, detector: Detector, opts: DetectorOptions
) -> list[str]:
    """What the loaded detector makes of the model, into ``report``; the self-test's warnings."""
    inp = model.input
    report["layout"]["description"] = model.layout.describe()
    report["layout"].update(detector.decoder.details())
    report["labels"] = {
        "source": detector.labels.source,
        "count": detector.labels.count,
        "offset": detector.labels.offset,
    }
    report["input_quantization"] = {
        "dtype": inp.dtype, "scale": inp.scale, "zero_point": inp.zero_point,
        "normalization": {"mean": detector.input_quant.mean, "std": detector.input_quant.std},
        "colour_order": opts.colour_order.value, "resize": detector.resize.value,
        "per_byte": detector.preprocessor.route.value,
    }  # fmt: skip
    report["input_levels"] = input_levels(detector)
    report["output_quantization"] = output_quantization(model, detector)
    checks = _self_test(model, detector)
    report["self_test"] = checks
    return [c["detail"] for c in checks if not c["ok"]]


def inspect_model(spec: str, opts: DetectorOptions | None = None) -> dict[str, Any]:
    """A JSON-able report. Raises ModelError only when the file cannot be read as a model."""
    opts = opts or DetectorOptions()
    path = resolve_model(spec)
    content = read_model_bytes(path)  # not TFLite / Edge TPU: raised to the CLI
    runtime = load_runtime(opts.runtime)
    report: dict[str, Any] = {
        "model": str(path),
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "runtime": {"name": runtime.name, "version": runtime.version},
    }
    try:
        interp, ops = new_interpreter(content, runtime, opts.threads, str(path))
        graph = read_graph(interp, ops)
    except UnicodeDecodeError as exc:  # a damaged name: the runtime decodes every one as UTF-8
        raise ModelError(
            f"a tensor or op name is not UTF-8 text ({bytes(exc.object[:60])!r}); "
            "the file is damaged",
            model=str(path),
        ) from exc
    report["inputs"] = [_tensor(t) for t in graph.inputs]
    report["outputs"] = [
        {**_tensor(t), "signature_name": graph.signature_outputs.get(t.index)}
        for t in graph.outputs
    ]
    report["ops"] = _ops_summary(graph)
    report["float_islands"] = [isl.explain(graph) for isl in float_islands(graph)]
    warnings = list(report["float_islands"])
    try:
        inp = check_input(graph, str(path))
        probes: list[Probe] = [run_interpreter(interp, graph, x) for x in _probe_inputs(inp)]
        meta = read_metadata(content, path)
        view = ModelView(graph, probes, inp, meta.values)
        report["families"] = [_verdict(name, v) for name, v in survey(view)]
        layout = recognise(view, model=str(path))
        report["layout"] = {
            "family": layout.family,
            "kind": layout_kind(layout.family),
            "description": layout.describe(),
        }
        if isinstance(layout, PostProcessLayout):
            report["layout"]["output_order"] = layout.order
        model = expose_quantized_scores(
            LoadedModel(
                path, content, runtime, interp, graph, inp, layout, probes, opts.threads, meta
            )
        )
        warnings += _detector_report(report, model, Detector(model, opts), opts)
        report["verdict"] = {"runs": True, "reason": "runs on this pipeline"}
    except ModelError as exc:
        report["verdict"] = {"runs": False, "reason": str(exc)}
    except (RuntimeError, ValueError) as exc:  # raised by the runtime on a damaged model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report["verdict"] = {"runs": False, "reason": f"the model failed to run: {first}"}
    report["warnings"] = warnings
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [f"model      {r['model']} ({r['size_bytes']:,} bytes, sha256 {r['sha256'][:16]}...)"]
    lines.append(f"runtime    {r['runtime']['name']} {r['runtime']['version']}")
    for t in r["inputs"]:
        lines.append(f"input      {_fmt_tensor(t)}")
    for t in r["outputs"]:
        sig = f"  (signature: {t['signature_name']})" if t.get("signature_name") else ""
        lines.append(f"output     {_fmt_tensor(t)}{sig}")
    for f in r.get("families", []):
        why = f": {f['why']}" if f["verdict"] != "recognises" else ""
        lines.append(f"family?    {f['family']}: {f['verdict']}{why}")
    if "layout" in r:
        lines.append(f"family     {r['layout']['family']}")
        lines.append(f"layout     {r['layout']['description']}")
        keys = ("box_format", "scores", "nms", "anchors", "scores_read_from",
                "score_activation", "activation_reason", "background_column")  # fmt: skip
        for key in keys:
            if key in r["layout"]:
                lines.append(f"           {key.replace('_', ' ')}: {r['layout'][key]}")
    if "input_quantization" in r:
        iq = r["input_quantization"]
        norm = iq["normalization"]
        to = iq["dtype"]
        if iq["dtype"] != "float32":
            to += f" (scale {iq['scale']:.6g}, zero point {iq['zero_point']})"
        how = {
            "cv2.transform": "one cv2.transform pass, checked against the table for every byte",
            "copy": "the table is the identity: no arithmetic (a colour swap or the sign bit)",
            "cv2.convertScaleAbs": "a line fitted to the table (cv2.convertScaleAbs), checked for "
            "every byte",
        }.get(iq["per_byte"], "a 256-entry table")
        lines.append(
            f"preprocess {iq['resize']} resize, {iq['colour_order'].upper()}, "
            f"(x - {norm['mean']:g}) / {norm['std']:g} -> {to}: {how}"
        )
    if "labels" in r:
        lb = r["labels"]
        lines.append(
            f"labels     {lb['count']} classes from {lb['source']} (offset {lb['offset']})"
        )
    ops = r["ops"]
    top = ", ".join(f"{k} {v}" for k, v in list(ops["by_name"].items())[:8])
    lines.append(f"ops        {ops['count']}: {top}")
    lines.append(f"dtypes     op outputs by dtype: {ops['output_dtypes']}")
    if ops["custom"]:
        lines.append(f"custom ops {', '.join(ops['custom'])}")
    for isl in r["float_islands"]:
        lines.append(f"WARNING    {isl}")
    for c in r.get("self_test", []):
        lines.append(f"self-test  [{'ok' if c['ok'] else 'FLAG'}] {c['check']}: {c['detail']}")
    v = r["verdict"]
    lines.append(f"verdict    {'RUNS' if v['runs'] else 'DOES NOT RUN'}: {v['reason']}")
    return "\n".join(lines)


def _fmt_tensor(t: dict[str, Any]) -> str:
    q = f" scale={t['scale']:.6g} zero_point={t['zero_point']}" if t["quantized"] else ""
    return f"#{t['index']} '{t['name']}' {t['dtype']}{t['shape']}{q}"
