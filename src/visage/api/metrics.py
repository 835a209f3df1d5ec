"""Prometheus metrics, one registry per app so tests and multiple apps do not collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("visage_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("visage_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.stage = Histogram("visage_stage_seconds", "Inference stage latency", ["stage"],
                               buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("visage_inference_queue_depth", "Inference requests running or waiting",
                                 registry=self.registry)
        self.model_load = Gauge("visage_model_load_seconds", "Time to load the pipeline's models",
                                registry=self.registry)
        self.ready = Gauge("visage_ready", "1 once models are loaded", registry=self.registry)
        self.gc_frozen = Gauge("visage_gc_frozen_objects",
                               "Long-lived objects exempted from garbage collection once ready (visage serve)",
                               registry=self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage=stage).observe(ms / 1000.0)
