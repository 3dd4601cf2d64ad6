"""Image data: built-in photo sets and paired (degraded, clean) data sets."""
