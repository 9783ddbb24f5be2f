"""The portal's settings for bench/load.py: the same in every way but the URLs (``bench.load_urls``).

The floor view lives only here, so the portal itself has no bench URL, no setting that turns one
on and nothing to review: the bench points ``DJANGO_SETTINGS_MODULE`` at this module.
"""

from campaign.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
