"""`python -m artifact_removal ...`: the command line."""

from .cli import main

raise SystemExit(main())
