"""Charts drawn by the server as inline SVG: no script, no CDN, no outside request."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

# Colours per message status, readable on the admin's light and dark themes.
STATUS_COLOURS = {
    "delivered": "#2e7d32",
    "sent": "#1976d2",
    "queued": "#f9a825",
    "pending": "#9e9e9e",
    "failed": "#c62828",
}


def stacked_bars(
    buckets: list[dict], *, series: list[str], label_key: str, title: str, width: int = 720, height: int = 220
) -> SafeString:
    """One bar per bucket, stacked by series, with a y axis scaled to the tallest bar."""
    left, bottom, top, right = 40, 30, 10, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(b.get(s, 0) for s in series) for b in buckets]
    peak = max(totals, default=0) or 1
    slot = plot_w / max(len(buckets), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height + 24}" '
        f'width="100%" class="chart"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="currentColor" '
        'stroke-opacity="0.4"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" font-size="11" fill="currentColor">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11" fill="currentColor">0</text>',
    ]
    for index, bucket in enumerate(buckets):
        x = left + index * slot + slot * 0.1
        y = top + plot_h
        for name in series:
            count = bucket.get(name, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
                f'fill="{STATUS_COLOURS.get(name, "#607d8b")}"><title>{escape(str(bucket[label_key]))}: '
                f"{count} {escape(name)}</title></rect>"
            )
        if index % 3 == 0:
            parts.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{height - 12}" text-anchor="middle" font-size="10" '
                f'fill="currentColor">{escape(str(bucket[label_key]))}</text>'
            )
    legend_x = left
    for name in series:
        parts.append(
            f'<rect x="{legend_x}" y="{height + 8}" width="10" height="10" '
            f'fill="{STATUS_COLOURS.get(name, "#607d8b")}"/>'
            f'<text x="{legend_x + 14}" y="{height + 17}" font-size="11" fill="currentColor">{escape(name)}</text>'
        )
        legend_x += 90
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value interpolated above is escaped or a number


def rate_bars(rows: list[tuple[str, float, str]], *, title: str, width: int = 720) -> SafeString:
    """Horizontal bars from 0 to 100 %: (label, share 0..1, text shown after the bar)."""
    row_h, label_w, text_w = 24, 160, 150
    height = max(len(rows), 1) * row_h + 8
    bar_w = width - label_w - text_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'class="chart"><title>{escape(title)}</title>'
    ]
    if not rows:
        parts.append('<text x="0" y="18" font-size="12" fill="currentColor">No messages in the last 24 hours</text>')
    for index, (label, share, text) in enumerate(rows):
        y = 4 + index * row_h
        share = min(max(share, 0.0), 1.0)
        colour = "#2e7d32" if share >= 0.9 else "#f9a825" if share >= 0.6 else "#c62828"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12" fill="currentColor">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="currentColor" fill-opacity="0.08"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * share:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-size="12" fill="currentColor">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value interpolated above is escaped or a number
