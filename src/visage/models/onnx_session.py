"""onnxruntime sessions: CPU, thread count configurable, one cached session per (file, threads)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import onnxruntime as ort

_lock = threading.Lock()
_sessions: dict[tuple[str, int], ort.InferenceSession] = {}


def default_threads() -> int:
    """``VISAGE_ONNX_THREADS`` or the machine's CPU count."""
    env = os.environ.get("VISAGE_ONNX_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


def create_session(path: str | os.PathLike[str], threads: int | None = None) -> ort.InferenceSession:
    """A new CPU session for the ONNX file at ``path`` with full graph optimisation."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads or default_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    # Spinning worker threads win microseconds on an idle machine and lose badly (3x measured on the
    # 2-core CI box) whenever anything else wants a core, OpenCV's own threads included.
    if os.environ.get("VISAGE_ONNX_SPIN", "0") != "1":
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def get_session(path: str | os.PathLike[str], threads: int | None = None) -> ort.InferenceSession:
    """The process-wide cached session for ``path`` (sessions are thread-safe for ``run``)."""
    key = (str(Path(path).resolve()), threads or default_threads())
    with _lock:
        sess = _sessions.get(key)
        if sess is None:
            sess = create_session(path, threads)
            _sessions[key] = sess
        return sess
