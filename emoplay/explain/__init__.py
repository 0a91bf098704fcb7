"""Saliency maps: which parts of a face the emotion model's decision depends on (``emoplay explain``).

The public names (:class:`SaliencyExplainer`, :class:`SaliencyOptions`, :class:`FaceSaliency`,
:class:`OcclusionOptions`, :func:`saliency_map`) are exported from ``emoplay``; this package
imports only numpy until a map is computed.
"""
