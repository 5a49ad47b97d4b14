"""``python -m sambridge_server`` runs the server CLI."""

from sambridge_server.cli import main

raise SystemExit(main())
