"""`python -m wsgiserver`: see `wsgiserver.cli.main`."""

from wsgiserver.cli.main import main

raise SystemExit(main())
