"""Loaders for real corpora, one module each; shared checks in :mod:`.common`."""

from . import common, crema_d, emodb, folder, iemocap, msp_improv, msp_podcast, ravdess

__all__ = ["common", "crema_d", "emodb", "folder", "iemocap", "msp_improv", "msp_podcast", "ravdess"]
