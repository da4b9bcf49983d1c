"""``python -m localcloud [--port 4566] [--time-scale S]``: the endpoint in the foreground.

Prints ``listening: <url>`` once it accepts requests; SIGTERM or SIGINT stops it.
"""

import sys

from localcloud.endpoint import main

sys.exit(main())
