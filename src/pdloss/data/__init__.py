"""Image data: built-in photo sets and paired (degraded, clean) data sets.

- :mod:`pdloss.data.sources`: ``resolve_images(source)``, a data source name (``"builtin"``,
  ``"debian-photos"``) or folder -> image files; ``list_sources()``.
- :mod:`pdloss.data.paired`: ``PairedDataset`` (random crops, degraded on the fly, seeded per
  epoch and item) and ``ValidationDataset`` (deterministic).
- :mod:`pdloss.data.builtin`: the photos inside installed wheels.
- :mod:`pdloss.data.debian`: fetching and verifying the ``debian-photos`` set.

Submodules are not imported here so that ``pdloss.data.builtin`` stays light.
"""
