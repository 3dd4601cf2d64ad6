"""``python -m pdloss`` runs the command line."""

from pdloss.cli import main

raise SystemExit(main())
