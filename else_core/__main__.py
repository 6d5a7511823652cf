import sys

from else_core.launcher import main

sys.exit(main())
