"""Take the mirror view out of a two-view emotion model file, so that emoplay can run each view on its own.

    git show c09ec89:models/emotion_cnn.onnx > runs/emotion_cnn_1.1.1.onnx      # the two-view 1.1.1 file
    python models/split_mirror_view.py runs/emotion_cnn_1.1.1.onnx --out models/emotion_cnn.onnx --version 1.1.2 \
        --check ../shared/data/fer2013/val.npz

Model 1.1.x files run every face twice inside the graph (``FlipAverage`` in models/training/net.py): the
input is mirrored (Slice), both views go through the network as one batch (Concat), and the output is the
log of the mean of the two views' probabilities. This script (build time: it needs the ``onnx`` package)
rewires such a file so that the network sees the input alone and its output is that view's probabilities
(``emoplay.output = "probabilities"``). Nothing else changes: the same int8 weights and the same quantisation scales (the script
checks that the mirror branch and the batch shared the input's scale and zero point, so each view's numbers are the
ones it had inside the two-view graph). The runtime then averages the probabilities of a face and its mirror
image itself (``ClassifierOptions.flip_average``, which the new ``emoplay.mirror_view = "runtime"``
metadata turns on), so ``emoplay eval`` and every classification of a lone face give the two-view file's
results, and the pipeline can refresh a stable face with one view at a time (``PipelineOptions
.alternate_views``). Run it twice on the same input: the output is byte-identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def split(source: Path, out: Path, version: str) -> Path:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("emoplay.mirror_view") == "runtime":
        raise SystemExit(f"{source} already has its mirror view outside the graph")
    nodes = list(graph.node)
    by_output = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    # The batch of two views: a Concat of two dequantised tensors, the face and its mirror image.
    (concat,) = [n for n in nodes if n.op_type == "Concat" and len(n.input) == 2
                 and all(i in by_output and by_output[i].op_type == "DequantizeLinear" for i in n.input)]
    face_view, mirror_view = concat.input
    (batch_q,) = consumers[concat.output[0]]  # the batch's QuantizeLinear
    initializers = {i.name: i for i in graph.initializer}
    quantisations = {tuple(numpy_helper.to_array(initializers[name]).item() for name in node.input[1:3])
                     for node in (by_output[face_view], by_output[mirror_view], batch_q)}  # (scale, zero point)
    if len(quantisations) != 1:
        raise SystemExit(f"the two views and the batch are quantised differently {sorted(quantisations)}: "
                         "one view on its own would not give the numbers it had in the two-view graph")
    (softmax,) = [n for n in nodes if n.op_type == "Softmax"]
    (softmax_q,) = consumers[softmax.output[0]]
    softmax_dq = consumers[softmax_q.output[0]][0]

    # The output is the view's probabilities as the two-view graph had them (Softmax, then its int8
    # QuantizeLinear/DequantizeLinear): no Reshape, no mean, no Log. Averaged in float32 by the runtime, two
    # views give the very numbers of the two-view file's ReduceMean (probabilities are multiples of the
    # softmax scale, so ties are frequent, and a log/exp round trip before averaging would break them).
    batch_q.input[0] = face_view
    softmax_dq.output[0] = "probabilities"
    graph.output[0].name = "probabilities"
    # Keep what the output still needs, in the original order (dead nodes: the mirror branch, the mean, Log).
    by_output = {o: n for n in nodes for o in n.output}
    needed, stack = set(), [graph.output[0].name]
    while stack:
        name = stack.pop()
        node = by_output.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
    kept = [n for n in nodes if id(n) in needed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    kept_initializers = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_initializers)
    del graph.value_info[:]  # shapes of the removed batch of two; onnxruntime infers the rest
    meta.update({"emoplay.model_version": version, "emoplay.mirror_view": "runtime", "emoplay.output": "probabilities",
                 "emoplay.derived_from": f"model {meta.get('emoplay.model_version', '?')}: the same weights and "
                                         "quantisation, its mirror view moved out of the graph "
                                         "(models/split_mirror_view.py)"})
    del model.metadata_props[:]
    for key in sorted(meta):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=meta[key]))
    onnx.checker.check_model(model)
    out.write_bytes(model.SerializeToString())
    return out


def check(before: Path, after: Path, data: Path) -> dict:
    """Both files through EmotionClassifier on the faces of ``data`` (an npz with images and labels): accuracy
    of each, on how many faces the predicted class agrees, the largest probability difference."""
    import numpy as np

    from emoplay import ClassifierOptions
    from emoplay.pipeline import EmotionClassifier

    with np.load(data) as d:
        images, labels = d["images"], d["labels"]
    probs = {}
    for name, path in (("before", before), ("after", after)):
        with EmotionClassifier(ClassifierOptions(model_path=str(path))) as classifier:
            probs[name] = np.concatenate([classifier.classify_crops(images[i:i + 256])
                                          for i in range(0, len(images), 256)])
    predicted = {name: p.argmax(1) for name, p in probs.items()}
    return {"faces": len(images),
            "accuracy_before": float(np.mean(predicted["before"] == labels)),
            "accuracy_after": float(np.mean(predicted["after"] == labels)),
            "same_class": int(np.sum(predicted["before"] == predicted["after"])),
            "max_probability_difference": float(np.abs(probs["before"] - probs["after"]).max())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a two-view (FlipAverage) emotion model file")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--version", required=True, help="the new file's emoplay.model_version")
    parser.add_argument("--check", type=Path, metavar="NPZ",
                        help="then compare both files through the runtime on these faces (e.g. val.npz)")
    args = parser.parse_args(argv)
    print(split(args.model, args.out, args.version))
    if args.check:
        print(json.dumps(check(args.model, args.out, args.check)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
