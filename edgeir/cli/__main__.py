import sys

from edgeir.cli import main

sys.exit(main())
