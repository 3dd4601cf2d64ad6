"""Training and evaluation of restoration models with any of pdloss's losses."""
