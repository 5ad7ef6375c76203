from __future__ import annotations

from django.core.management.base import BaseCommand

from gateways.models import Gateway


class Command(BaseCommand):
    help = "List gateway phones with their state (never their tokens)."

    def handle(self, *args, **options):
        header = f"{'ID':>4}  {'KIND':5} {'STATE':9} {'NAME':20} {'LAST SEEN':20} {'RATE':>4}  {'BATTERY':>7}  SIMS"
        self.stdout.write(header)
        for gateway in Gateway.objects.order_by("pk"):
            if gateway.revoked_at:
                state = "revoked"
            elif not gateway.enabled:
                state = "disabled"
            else:
                state = "online" if gateway.is_online else "offline"
            seen = gateway.last_seen_at.strftime("%Y-%m-%d %H:%M:%S") if gateway.last_seen_at else "never"
            battery = f"{gateway.battery}%" if gateway.battery is not None else "-"
            sims = ", ".join(gateway.carriers) or "-"
            self.stdout.write(
                f"{gateway.pk:>4}  {gateway.kind:5} {state:9} {gateway.name[:20]:20} {seen:20} "
                f"{gateway.rate_per_minute:>4}  {battery:>7}  {sims}"
            )
