import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import every view now (Django waits for the first request), so that the first visitor does
# not wait for it and what it makes is frozen below with the rest.
get_resolver().url_patterns  # noqa: B018 (reading it imports the views)

# What loading the site made (Django, the apps, their views: about 117,000 objects) lives as
# long as the process. Moving it out of the collector's reach keeps each full collection to the
# objects requests make: a page of 100 models from the API makes enough to trigger several,
# and in one process its median went from 365 to 261 ms (docs/PERFORMANCE.md).
gc.freeze()
