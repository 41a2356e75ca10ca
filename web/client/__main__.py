import sys

from web.client.main import main

sys.exit(main())
