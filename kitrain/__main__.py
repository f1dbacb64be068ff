"""``python -m kitrain`` runs the command line."""

import sys

from kitrain.cli import main

sys.exit(main())
