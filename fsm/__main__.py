"""``python -m fsm ...``, the same as the ``fsm`` console script."""

import sys

from fsm.main import main

sys.exit(main())
