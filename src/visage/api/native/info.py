"""Read-only facts a client needs before it acts: its key's role, and what a verify threshold means.

``GET /v1/session`` tells a client (the web console) whether keys are required and what the key it
holds may do, so it can ask for one and hide admin actions from a read-only key; it never lists keys.
``GET /v1/verify/operating-point`` states, for the server's embedder (or a named one), the false-accept
and false-reject rates a similarity threshold gave on the labelled pairs of the model's measured ROC
(``data/roc_<model>.json``), with how many pairs that is and where they came from: the numbers behind
"similarity >= 0.5 means the same person".
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from visage.api.dialects.threedivi.roc import get_roc
from visage.api.native.routes import _ERRORS
from visage.api.state import AppState, _presented_key, get_state, require_key
from visage.calibration import DEFAULT_THRESHOLD, get_calibration
from visage.errors import InvalidParameterError, ModelUnavailableError, NotFoundError, UnauthorizedError

router = APIRouter(prefix="/v1", tags=["native"], responses=_ERRORS)


@router.get("/session", summary="Whether API keys are required and the role of the key presented")
async def session(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    if not state.api_keys.enabled:
        return {"keys_required": False, "role": "admin"}
    presented = _presented_key(request)
    if presented is None:
        return {"keys_required": True, "role": None}
    role = state.api_keys.role_of(presented)
    if role is None:
        raise UnauthorizedError("unknown API key")
    return {"keys_required": True, "role": role}


def _calibration_row(model: str) -> dict[str, Any]:
    """The model's row of ``data/calibration.json`` as measured (every field, whatever bench/ wrote)."""
    text = resources.files("visage.data").joinpath("calibration.json").read_text()
    row = json.loads(text)["models"].get(model, {})
    return row if isinstance(row, dict) else {}


def operating_point(model: str, threshold: float) -> dict[str, Any]:
    """Error rates at similarity ``threshold`` on the measured pairs of ``model`` (counts, not interpolation)."""
    calibration = get_calibration(model)
    cosine = calibration.cosine_at(threshold)
    out: dict[str, Any] = {"model": model, "threshold": threshold, "cosine_threshold": round(cosine, 6),
                           "calibration_measured_on": calibration.measured_on,
                           "calibration": _calibration_row(model)}
    try:
        roc = get_roc(model)
    except ModelUnavailableError:
        out["rates"] = None
        return out
    # A pair is accepted when its cosine reaches the threshold, i.e. its distance 1 - cosine is at most 1 - cosine.
    limit = 1.0 - cosine + 1e-12
    false_accepts = int(np.count_nonzero(roc.impostor <= limit))
    false_rejects = int(np.count_nonzero(roc.genuine > limit))
    out["rates"] = {
        "false_accept_rate": false_accepts / roc.impostor.size, "false_accepts": false_accepts,
        "impostor_pairs": int(roc.impostor.size),
        "false_reject_rate": false_rejects / roc.genuine.size, "false_rejects": false_rejects,
        "genuine_pairs": int(roc.genuine.size),
        "measured_on": roc.measured_on,
    }
    return out


@router.get("/verify/operating-point", dependencies=[Depends(require_key("read"))],
            summary="False-accept and false-reject rates of a verify threshold, from the measured pairs")
async def verify_operating_point(threshold: float = Query(DEFAULT_THRESHOLD, ge=0.0, le=1.0),
                                 model: str | None = Query(None, max_length=128),
                                 state: AppState = Depends(get_state)) -> dict[str, Any]:
    if model is None:
        return operating_point(state.engine.embedder_model, threshold)
    try:
        return operating_point(model, threshold)
    except (ModelUnavailableError, InvalidParameterError):  # get_calibration: an unknown model is a 400 elsewhere
        raise NotFoundError(f"no calibration for embedder {model!r}") from None
