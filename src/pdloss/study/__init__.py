"""Human pairwise-preference study: the forced-choice comparisons of the paper's Tables 3 and 5.

* :mod:`pdloss.study.design` -- ``study create``: pair images by stem, crop, store the design.
* :mod:`pdloss.study.sweep` -- ``study create --from-sweep``: a sweep's runs as the methods.
* :mod:`pdloss.study.assign` -- balanced question sets per rater.
* :mod:`pdloss.study.app` -- the Flask app factory and the guards of every request.
* :mod:`pdloss.study.routes` -- the rater pages, votes, images and admin pages (a blueprint).
* :mod:`pdloss.study.ratelimit` -- the per-client token-bucket rate limit.
* :mod:`pdloss.study.server` -- ``study serve`` under waitress (or werkzeug's threaded server).
* :mod:`pdloss.study.report` -- preference matrix, standard errors, Bradley-Terry scores, plot.
* :mod:`pdloss.study.db` -- the SQLite schema and transactions.
* :mod:`pdloss.study.store` -- the app's queries: raters, questions, votes, admin counts.
* :mod:`pdloss.study.export` -- the votes as CSV (``study export``, ``/admin/votes.csv``).
"""
