"""Image input shared by every API: bytes or base64 in, an RGB uint8 array out, with limits."""

from visage.imaging.decode import DecodedImage, ImageLimits, decode_base64, load_image

__all__ = ["DecodedImage", "ImageLimits", "decode_base64", "load_image"]
