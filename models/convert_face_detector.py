"""Convert MediaPipe's BlazeFace face detectors (short and full range) from TFLite to ONNX.

A build-time script (``pip install -e '.[convert]'``): it reads the TFLite
flatbuffer with the ``tflite`` package (the schema only, no interpreter) and
writes the same network as ONNX nodes with the ``onnx`` package, so that
emoplay runs its face detector on onnxruntime like its emotion classifier and
needs no TFLite or MediaPipe runtime. The weights are stored in the tflite file
as float16 (the full-range model's 1x1 convolutions sparse, in TFLite's
compressed-row format) and are densified and dequantized once here to float32
(exact). Activations are NCHW inside the ONNX graph; its input stays ``input``
[1, S, S, 3] (NHWC, RGB scaled to [-1, 1]) and its outputs are ``regressors``
[1, N, 16] and ``classificators`` [1, N, 1], as in the tflite file:

* short range (``face_detector.tflite``): S = 128, N = 896;
* full range (``face_detector_full_range.tflite``, MediaPipe's
  ``face_detection_full_range_sparse.tflite``): S = 192, N = 2304 (its outputs,
  named ``Identity`` and ``Identity_1`` in the tflite file, get the same names
  as the short-range ones).

Only the operators these two models use are supported (CONV_2D,
DEPTHWISE_CONV_2D, ADD, RELU, MAX_POOL_2D, PAD, RESHAPE, CONCATENATION,
DEQUANTIZE, DENSIFY, RESIZE_BILINEAR, DEPTH_TO_SPACE); anything else stops the
conversion with its name. With ``--check`` (needs ``ai-edge-litert``) the result
is compared with the TFLite interpreter on random and real inputs.

    python models/convert_face_detector.py --check
    python models/convert_face_detector.py --range full --check

The converted files are derived forms of Google's Apache-2.0 models: see
models/LICENSE-face_detector.txt.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OPSET = 17
RANGES = {  # --range: (tflite file, ONNX file, what the metadata calls the model)
    "short": ("face_detector.tflite", "face_detector.onnx", "MediaPipe BlazeFace short range"),
    "full": ("face_detector_full_range.tflite", "face_detector_full_range.onnx",
             "MediaPipe BlazeFace full range (sparse)"),
}
INPUT_NAME = "input"  # the short-range file's name for it; the full-range file calls it input_1
OUTPUT_NAMES = {16: "regressors", 1: "classificators"}  # by the last dimension of a graph output
GRAPH_NAMES = {128: "blazeface_short_range", 192: "blazeface_full_range"}  # by the input's side


def _read_model(path: Path):
    import tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    if model.SubgraphsLength() != 1:
        raise SystemExit(f"{path}: expected one subgraph, found {model.SubgraphsLength()}")
    return model


class _Converter:
    """Walks the tflite operators in order and emits the matching ONNX nodes."""

    def __init__(self, model, channel_pads_as_conv: bool = True) -> None:
        import tflite

        self.channel_pads_as_conv = channel_pads_as_conv  # False: keep them as Pad (benchmarks/detector_graph.py)

        self.tfl = tflite
        self.model = model
        self.graph = model.Subgraphs(0)
        self.op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.nodes: list = []
        self.initializers: list = []
        self.constants: dict[int, np.ndarray] = {}  # tflite tensor index -> float32 / int32 value
        self.names: dict[int, str] = {}  # tflite tensor index -> ONNX value name (NCHW for 4-D activations)

    # -- tensors -----------------------------------------------------------------------------------------------
    def shape(self, index: int) -> list[int]:
        return [int(d) for d in self.graph.Tensors(index).ShapeAsNumpy()]

    def tensor_name(self, index: int) -> str:
        return self.graph.Tensors(index).Name().decode()

    def value_name(self, index: int) -> str:
        """The ONNX name of an intermediate value: the tflite name, prefixed (graph outputs keep the plain one)."""
        return "tfl/" + self.tensor_name(index)

    def buffer(self, index: int) -> np.ndarray | None:
        tensor = self.graph.Tensors(index)
        data = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        dtype = {self.tfl.TensorType.FLOAT16: np.float16, self.tfl.TensorType.FLOAT32: np.float32,
                 self.tfl.TensorType.INT32: np.int32}[tensor.Type()]
        return np.frombuffer(data.tobytes(), dtype).reshape(self.shape(index))

    def constant(self, index: int) -> np.ndarray:
        if index not in self.constants:
            value = self.buffer(index)
            if value is None:
                raise SystemExit(f"tensor {self.tensor_name(index)} should be a constant but has no data")
            self.constants[index] = value
        return self.constants[index]

    def initializer(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    # -- operators ---------------------------------------------------------------------------------------------
    def convert(self):
        from onnx import TensorProto, helper

        (inp,) = self.graph.InputsAsNumpy()
        self.names[int(inp)] = self.node("Transpose", [INPUT_NAME], "input_nchw", perm=[0, 3, 1, 2])
        for j in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(j)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = self.op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            handler = getattr(self, f"op_{name.lower()}", None)
            if handler is None:
                raise SystemExit(f"operator {name} is not supported by this converter (BlazeFace uses "
                                 "CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, MAX_POOL_2D, PAD, RESHAPE, "
                                 "CONCATENATION, DEQUANTIZE, DENSIFY, RESIZE_BILINEAR, DEPTH_TO_SPACE)")
            handler(op, [int(i) for i in op.InputsAsNumpy()], [int(i) for i in op.OutputsAsNumpy()])
        outputs = []
        for index in self.graph.OutputsAsNumpy():
            name = OUTPUT_NAMES[self.shape(index)[-1]]
            self.node("Identity", [self.names[int(index)]], name)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, self.shape(index)))
        graph = helper.make_graph(
            self.nodes, GRAPH_NAMES[self.shape(inp)[1]],
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, self.shape(inp))],
            outputs, self.initializers)
        return graph

    def op_dequantize(self, op, inputs, outputs) -> None:
        self.constants[outputs[0]] = self.constant(inputs[0]).astype(np.float32)

    def op_densify(self, op, inputs, outputs) -> None:
        self.constants[outputs[0]] = self.densified(inputs[0])

    def _index_vector(self, kind: int, table) -> np.ndarray:
        vector_type = {self.tfl.SparseIndexVector.Int32Vector: self.tfl.Int32Vector,
                       self.tfl.SparseIndexVector.Uint16Vector: self.tfl.Uint16Vector,
                       self.tfl.SparseIndexVector.Uint8Vector: self.tfl.Uint8Vector}[kind]
        vector = vector_type()
        vector.Init(table.Bytes, table.Pos)
        return vector.ValuesAsNumpy().astype(np.int64)

    def densified(self, index: int) -> np.ndarray:
        """A sparse constant tensor as a dense array: TFLite's format with dense and compressed-row dimensions.

        Each dimension, in traversal order, expands every position of the one before: a dense one into its
        ``dense_size`` children, a sparse one into the children that ``array_segments`` gives it, at the
        coordinates in ``array_indices``. The stored values are the leaves, in that order.
        """
        tensor = self.graph.Tensors(index)
        sparsity = tensor.Sparsity()
        shape = self.shape(index)
        order = list(sparsity.TraversalOrderAsNumpy())
        if order != list(range(len(shape))) or sparsity.BlockMapLength():
            raise SystemExit(f"sparse tensor {self.tensor_name(index)}: block sparsity or a traversal order other "
                             "than the dimensions' is not supported")
        dtype = {self.tfl.TensorType.FLOAT16: np.float16, self.tfl.TensorType.FLOAT32: np.float32}[tensor.Type()]
        values = np.frombuffer(self.model.Buffers(tensor.Buffer()).DataAsNumpy().tobytes(), dtype)
        coordinates = np.zeros((1, 0), np.int64)  # one row per position reached so far
        for dim in range(len(shape)):
            metadata = sparsity.DimMetadata(dim)
            if metadata.Format() == self.tfl.DimensionType.DENSE:
                size = metadata.DenseSize()
                coordinates = np.concatenate([np.repeat(coordinates, size, axis=0),
                                              np.tile(np.arange(size), len(coordinates))[:, None]], axis=1)
            else:
                segments = self._index_vector(metadata.ArraySegmentsType(), metadata.ArraySegments())
                indices = self._index_vector(metadata.ArrayIndicesType(), metadata.ArrayIndices())
                counts = np.diff(segments)
                coordinates = np.concatenate([np.repeat(coordinates, counts, axis=0),
                                              indices[segments[0]:segments[-1], None]], axis=1)
        if len(coordinates) != len(values):
            raise SystemExit(f"sparse tensor {self.tensor_name(index)}: {len(values)} values for "
                             f"{len(coordinates)} positions")
        dense = np.zeros(shape, dtype)
        dense[tuple(coordinates.T)] = values
        return dense

    def _activation(self, options, output_name: str) -> str:
        fused = options.FusedActivationFunction()
        if fused == self.tfl.ActivationFunctionType.NONE:
            return output_name
        if fused == self.tfl.ActivationFunctionType.RELU:
            return self.node("Relu", [output_name], output_name + "_relu")
        raise SystemExit(f"fused activation {fused} is not supported")

    def _same_pads(self, in_hw: list[int], kernel: list[int], strides: list[int], padding: int) -> list[int]:
        """ONNX pads [top, left, bottom, right] for TFLite's SAME/VALID padding (extra pixel at the end)."""
        if padding == self.tfl.Padding.VALID:
            return [0, 0, 0, 0]
        begin, end = [], []
        for size, k, s in zip(in_hw, kernel, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return begin + end

    def _conv(self, op, inputs, outputs, depthwise: bool) -> None:
        options_type = self.tfl.DepthwiseConv2DOptions if depthwise else self.tfl.Conv2DOptions
        options = options_type()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if options.DilationHFactor() != 1 or options.DilationWFactor() != 1:
            raise SystemExit("dilated convolutions are not supported")
        weights = self.constant(inputs[1])  # conv: [O, kh, kw, I]; depthwise: [1, kh, kw, C * multiplier]
        channels = self.shape(inputs[0])[3]
        if depthwise:
            if options.DepthMultiplier() not in (0, 1):
                raise SystemExit("depthwise convolutions with a depth multiplier are not supported")
            kernel = weights.transpose(3, 0, 1, 2)  # [C, 1, kh, kw]
        else:
            kernel = weights.transpose(0, 3, 1, 2)  # [O, I, kh, kw]
        out = outputs[0]
        base = self.value_name(out)
        strides = [options.StrideH(), options.StrideW()]
        pads = self._same_pads(self.shape(inputs[0])[1:3], list(kernel.shape[2:]), strides, options.Padding())
        conv_inputs = [self.names[inputs[0]], self.initializer(base + "/W", kernel)]
        if len(inputs) > 2 and inputs[2] >= 0:
            conv_inputs.append(self.initializer(base + "/B", self.constant(inputs[2]).astype(np.float32)))
        result = self.node("Conv", conv_inputs, base, kernel_shape=list(kernel.shape[2:]), strides=strides,
                           pads=pads, group=channels if depthwise else 1)
        self.names[out] = self._activation(options, result)

    def op_conv_2d(self, op, inputs, outputs) -> None:
        self._conv(op, inputs, outputs, depthwise=False)

    def op_depthwise_conv_2d(self, op, inputs, outputs) -> None:
        self._conv(op, inputs, outputs, depthwise=True)

    def op_add(self, op, inputs, outputs) -> None:
        options = self.tfl.AddOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        result = self.node("Add", [self.names[inputs[0]], self.names[inputs[1]]], self.value_name(outputs[0]))
        self.names[outputs[0]] = self._activation(options, result)

    def op_relu(self, op, inputs, outputs) -> None:
        self.names[outputs[0]] = self.node("Relu", [self.names[inputs[0]]], self.value_name(outputs[0]))

    def op_max_pool_2d(self, op, inputs, outputs) -> None:
        options = self.tfl.Pool2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        kernel, strides = [options.FilterHeight(), options.FilterWidth()], [options.StrideH(), options.StrideW()]
        pads = self._same_pads(self.shape(inputs[0])[1:3], kernel, strides, options.Padding())
        if any(pads):
            raise SystemExit("padded max pooling is not supported (ONNX pads with -inf, TFLite ignores the pad)")
        result = self.node("MaxPool", [self.names[inputs[0]]], self.value_name(outputs[0]), kernel_shape=kernel,
                           strides=strides, pads=pads)
        self.names[outputs[0]] = self._activation(options, result)

    def op_pad(self, op, inputs, outputs) -> None:
        paddings = self.constant(inputs[1]).astype(np.int64)  # [[n0, n1], [h0, h1], [w0, w1], [c0, c1]] (NHWC)
        name = self.value_name(outputs[0])
        if self.channel_pads_as_conv and not paddings[:3].any() and paddings[3, 0] == 0:
            # Zero channels appended (BlazeFace's residual blocks that widen): a 1x1 convolution whose weights
            # copy the C input channels and add zero ones computes the same values. onnxruntime runs every
            # convolution in its blocked channel layout; a Pad is not one of its blocked operators, so around
            # each Pad it converted the activations out of that layout and back, and could not fuse the
            # following Add and Relu into the convolutions (models/EXPERIMENTS.md has the times).
            channels = self.shape(inputs[0])[3]
            copy = np.zeros((channels + int(paddings[3, 1]), channels, 1, 1), np.float32)
            copy[np.arange(channels), np.arange(channels)] = 1.0
            weights = self.initializer(name + "/W", copy)
            self.names[outputs[0]] = self.node("Conv", [self.names[inputs[0]], weights], name, kernel_shape=[1, 1])
            return
        nchw = paddings[[0, 3, 1, 2]]
        pads = self.initializer(name + "/pads", np.concatenate([nchw[:, 0], nchw[:, 1]]))
        self.names[outputs[0]] = self.node("Pad", [self.names[inputs[0]], pads], name, mode="constant")

    def op_reshape(self, op, inputs, outputs) -> None:
        name = self.value_name(outputs[0])
        source = self.names[inputs[0]]
        if len(self.shape(inputs[0])) == 4:  # back to TFLite's NHWC order before flattening
            source = self.node("Transpose", [source], name + "/nhwc", perm=[0, 2, 3, 1])
        shape = self.initializer(name + "/shape", np.asarray(self.shape(outputs[0]), np.int64))
        self.names[outputs[0]] = self.node("Reshape", [source, shape], name)

    def op_resize_bilinear(self, op, inputs, outputs) -> None:
        options = self.tfl.ResizeBilinearOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if options.AlignCorners():
            mode = "align_corners"
        elif options.HalfPixelCenters():
            mode = "half_pixel"  # TFLite's half_pixel_centers: source = (dst + 0.5) / scale - 0.5, edges clamped
        else:
            mode = "asymmetric"
        name = self.value_name(outputs[0])
        sizes = self.initializer(name + "/sizes", np.asarray([1, self.shape(outputs[0])[3],
                                                              *self.shape(outputs[0])[1:3]], np.int64))
        self.names[outputs[0]] = self.node("Resize", [self.names[inputs[0]], "", "", sizes], name, mode="linear",
                                           coordinate_transformation_mode=mode)

    def op_depth_to_space(self, op, inputs, outputs) -> None:
        options = self.tfl.DepthToSpaceOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        # TFLite's depth-to-space (NHWC) takes the channels as (block row, block column, channel): ONNX's DCR.
        self.names[outputs[0]] = self.node("DepthToSpace", [self.names[inputs[0]]], self.value_name(outputs[0]),
                                           blocksize=options.BlockSize(), mode="DCR")

    def op_concatenation(self, op, inputs, outputs) -> None:
        options = self.tfl.ConcatenationOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if any(len(self.shape(i)) == 4 for i in inputs):
            raise SystemExit("concatenating 4-D tensors is not supported")
        result = self.node("Concat", [self.names[i] for i in inputs], self.value_name(outputs[0]),
                           axis=options.Axis())
        self.names[outputs[0]] = self._activation(options, result)


def convert(source: Path, target: Path, channel_pads_as_conv: bool = True) -> None:
    import onnx
    from onnx import helper

    graph = _Converter(_read_model(source), channel_pads_as_conv).convert()
    side = graph.input[0].type.tensor_type.shape.dim[1].dim_value
    described = {spec[0]: spec[2] for spec in RANGES.values()}.get(source.name, "MediaPipe BlazeFace")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="emoplay models/convert_face_detector.py")
    model.ir_version = 8
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    for key, value in {
        "emoplay.source": f"{source.name} sha256 {digest} ({described}, Apache-2.0, "
                          "Google LLC); converted to ONNX by models/convert_face_detector.py",
        "emoplay.input": f"input [1,{side},{side},3] float32 NHWC RGB in [-1,1], letterboxed",
        "emoplay.license": "Apache-2.0, see LICENSE-face_detector.txt",
    }.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    target.write_bytes(model.SerializeToString())


def check(source: Path, target: Path) -> float:
    """Largest |difference| between the TFLite interpreter and onnxruntime (1 thread) over test inputs."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(source), num_threads=1)
    interpreter.allocate_tensors()
    (tfl_input,) = interpreter.get_input_details()
    tfl_outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    side = int(tfl_input["shape"][1])
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, (1, side, side, 3)).astype(np.float32) for _ in range(4)]
    inputs += [_face_input(side)]
    worst = 0.0
    for x in inputs:
        interpreter.set_tensor(tfl_input["index"], x)
        interpreter.invoke()
        onnx_out = dict(zip(["regressors", "classificators"], session.run(["regressors", "classificators"],
                                                                         {"input": x})))
        for index in tfl_outputs.values():
            reference = interpreter.get_tensor(index)
            worst = max(worst, float(np.abs(reference - onnx_out[OUTPUT_NAMES[reference.shape[-1]]]).max()))
    return worst


def _face_input(side: int) -> np.ndarray:
    """A real face: the first FER val image upscaled to the model's input side, as a model input."""
    import cv2

    val = HERE.parent.parent / "shared" / "data" / "fer2013" / "val.npz"
    with np.load(val) as data:
        face = cv2.resize(data["images"][0], (side, side), interpolation=cv2.INTER_CUBIC)
    rgb = np.repeat(face[:, :, None], 3, axis=2).astype(np.float32)
    return (rgb / 127.5 - 1.0)[None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--range", choices=sorted(RANGES), default="short",
                        help="which shipped model to convert (default short); sets --source and --out")
    parser.add_argument("--source", type=Path, help="the tflite file (default: models/, by --range)")
    parser.add_argument("--out", type=Path, help="the ONNX file to write (default: models/, by --range)")
    parser.add_argument("--check", action="store_true", help="compare with the TFLite interpreter (ai-edge-litert)")
    args = parser.parse_args(argv)
    args.source = args.source or HERE / RANGES[args.range][0]
    args.out = args.out or HERE / RANGES[args.range][1]
    convert(args.source, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()})")
    if args.check:
        worst = check(args.source, args.out)
        print(f"largest |TFLite - ONNX| over 5 inputs, both outputs: {worst:.3g}")
        if worst > 1e-3:
            raise SystemExit("the converted model differs from the TFLite one")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
