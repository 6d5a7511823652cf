import sys

from else_core.cli import main

sys.exit(main())
