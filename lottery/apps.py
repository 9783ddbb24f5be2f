from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LotteryConfig(AppConfig):
    name = "lottery"
    verbose_name = _("Lottery")

    def ready(self) -> None:
        # The progress document (missions) shows the draw's outcome: hand it the lottery's reading.
        from lottery.services import lottery_status_of
        from missions import progress

        progress.lottery_status = lottery_status_of
