"""Tables, intervals, plots and crop grids, regenerated from evaluation records or committed results.

- :mod:`pdloss.report.summary`: a sweep's rows over seeds and its paired differences.
- :mod:`pdloss.report.figures`: crop grids at 2x zoom and feature CDFs.
"""
