"""``python -m localcloud [--port 4566] [--time-scale S]``: the endpoint in the foreground.

Prints ``control secret: <secret>`` (the ``X-Localcloud-Secret`` of ``/_local/*`` and
``/moto-api/*``), then ``listening: <url>`` once it accepts requests; SIGTERM or SIGINT
stops it.
"""

import sys

from localcloud.endpoint import main

sys.exit(main())
