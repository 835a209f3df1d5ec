"""visage: self-hosted face analysis that speaks the cloud face APIs' wire formats."""

__version__ = "0.1.0"
