import sys

from ganbench.cli.main import main

sys.exit(main())
