"""``python -m usm_billing``: see :mod:`usm_billing.cli`."""

import sys

from usm_billing.cli import main

sys.exit(main())
