"""Face detectors, one module per model family; all return :class:`base.Detection` in image pixels.

``retinaface`` (the default: small faces, profiles, crowds) and ``blazeface`` (MediaPipe's selfie and
full-range models, a named option); the pipeline picks one by the ``detector`` setting.
"""
