import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")
application = get_wsgi_application()

# What loading the project created lives as long as the process: kept out of the garbage
# collector's full passes, which otherwise walk all of it (about 120,000 objects, 40-75 ms with
# every thread of the worker waiting) and set the served pages' slowest percentile (bench/load.py).
gc.freeze()
