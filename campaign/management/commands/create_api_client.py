from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaign.auth import api_client_create


class Command(BaseCommand):
    help = "Create a system API client (the Wesmo! system or app) and print its token on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name for the client, e.g. wesmo-system.")

    def handle(self, *args, name: str, **options):
        try:
            client, token = api_client_create(name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"API client {client.username!r} created. Send 'Authorization: Token <key>' with:")
        self.stdout.write(token)
