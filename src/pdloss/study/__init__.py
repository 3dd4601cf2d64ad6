"""Human pairwise-preference study: the forced-choice comparisons of the paper's Tables 3 and 5.

* :mod:`pdloss.study.design` -- ``study create``: pair images by stem, crop, store the design.
* :mod:`pdloss.study.sweep` -- ``study create --from-sweep``: a sweep's runs as the methods.
* :mod:`pdloss.study.assign` -- balanced question sets per rater.
* :mod:`pdloss.study.app` -- the Flask app (rater pages, votes, images, admin pages).
* :mod:`pdloss.study.server` -- ``study serve`` under waitress (or werkzeug's threaded server).
* :mod:`pdloss.study.report` -- preference matrix, standard errors, Bradley-Terry scores, plot.
* :mod:`pdloss.study.db` -- the SQLite schema and transactions.
"""
