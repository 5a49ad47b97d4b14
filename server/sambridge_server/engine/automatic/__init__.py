"""Automatic segmentation: AIS (decoder maps + seeded watershed) and AMG (prompt grid + filtering).

Modules: ``ais`` (maps, tiling, watershed), ``ais_decoder`` (micro_sam's UNETR decoder),
``amg`` (automatic mask generation).
"""

from .ais import AISMaps, AISParams, ais_segment, default_ais_params, embeddings_ais_maps
from .ais_decoder import AISDecoder, build_ais_decoder, predict_ais_maps
from .amg import AMGParams, AMGResult, amg_segment, default_amg_params, embeddings_amg_candidates

__all__ = [
    "AISDecoder", "AISMaps", "AISParams", "AMGParams", "AMGResult", "ais_segment", "amg_segment",
    "build_ais_decoder", "default_ais_params", "default_amg_params", "embeddings_ais_maps",
    "embeddings_amg_candidates", "predict_ais_maps",
]
