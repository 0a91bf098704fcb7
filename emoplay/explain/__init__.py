"""Saliency maps: which parts of a face the emotion model's decision depends on (``emoplay explain``).

This package imports only numpy until a map is computed.
"""

from ._occlusion import OcclusionOptions
from ._rise import RiseOptions
from ._saliency import FaceSaliency, SaliencyExplainer, SaliencyOptions, saliency_map

__all__ = ["FaceSaliency", "OcclusionOptions", "RiseOptions", "SaliencyExplainer", "SaliencyOptions", "saliency_map"]
