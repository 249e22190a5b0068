"""``python -m facility_edge run --config F``: the lean agent process (see :mod:`.run`)."""

import sys

from facility_edge.run import main

sys.exit(main())
