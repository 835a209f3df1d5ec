"""Give an ONNX model exported with a fixed batch (faceplugin's 1x3x112x112) a dynamic one.

One run then embeds every face of an image. The graph inputs' and outputs' first dimension becomes
the symbol ``N``; every Reshape whose constant target starts with the old static batch copies that
dimension from its input instead (``0`` in ONNX Reshape), which is what a batch-1 export's
flatten-before-the-head means. The rewritten model is cached next to the source, keyed by its sha256
(:func:`visage.models.onnx_cache.dynamic_batch_cached`, which imports this module only when a
rewrite has to run), and checked by onnxruntime's own shape inference when the session loads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from visage.models.graph_passes import split_prelu


def make_batch_dynamic(model: onnx.ModelProto, symbol: str = "N") -> onnx.ModelProto:
    """A copy of ``model`` whose batch dimension is ``symbol`` (inputs, outputs, batch Reshapes)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {i.name for i in g.initializer}
    real_inputs = [i for i in g.input if i.name not in inits]
    static = {int(i.type.tensor_type.shape.dim[0].dim_value) for i in real_inputs
              if i.type.tensor_type.shape.dim and i.type.tensor_type.shape.dim[0].HasField("dim_value")}
    for value in (*real_inputs, *g.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = symbol
    del g.value_info[:]  # stale static shapes; onnxruntime infers them again
    by_name = {i.name: i for i in g.initializer}
    for node in g.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in by_name:
            continue
        init = by_name[node.input[1]]
        shape = numpy_helper.to_array(init).copy()
        if shape.size and int(shape[0]) in static:
            shape[0] = 0
            init.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), init.name))
    return out


def rewrite_file(path: Path) -> bytes:
    """The serialised, checked :func:`make_batch_dynamic` rewrite of the ONNX file ``path``."""
    model = make_batch_dynamic(onnx.load(str(path)))
    split_prelu(model)
    onnx.checker.check_model(model)
    return model.SerializeToString()
