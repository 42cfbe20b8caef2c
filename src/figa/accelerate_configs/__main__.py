"""`python -m figa.accelerate_configs NAME`: print the path of a shipped accelerate config (for --config_file)."""

import sys

from ..errors import FigaError
from . import NAMES, config_path

if len(sys.argv) != 2:
    sys.exit(f"usage: python -m figa.accelerate_configs {{{','.join(NAMES)}}}")
try:
    print(config_path(sys.argv[1]))
except FigaError as error:
    sys.exit(f"error: {error}")
