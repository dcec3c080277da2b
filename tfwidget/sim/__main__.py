"""``python -m tfwidget.sim``: run the simulated gateway until interrupted."""

from .cli import main

raise SystemExit(main())
