"""`python -m wsgiserver`: see `wsgiserver.cli`."""

from wsgiserver.cli import main

raise SystemExit(main())
