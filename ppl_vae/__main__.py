"""``python -m ppl_vae ...`` (and ``torchrun -m ppl_vae ...``): the ``ppl-vae`` command."""

import sys

from ppl_vae.cli import main

sys.exit(main())
