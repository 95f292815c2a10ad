import sys

from tasks.report.build import main

sys.exit(main())
