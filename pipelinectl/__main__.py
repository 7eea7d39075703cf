import sys

from pipelinectl.cli import main

sys.exit(main())
