"""3DiVi Image API dialect (seed 003): processing blocks at ``/<block>/process/{sample,image}``."""

from visage.api.dialects.threedivi.routes import BLOCKS, mount

__all__ = ["BLOCKS", "mount"]
