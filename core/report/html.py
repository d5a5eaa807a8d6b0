"""A tiny builder of self-contained HTML pages: escaped text, tables, and PNG figures embedded as data URIs.

The page needs nothing from outside (no CSS, JS or font files, no network): styles and the one script are
inline and every image is ``<img src="data:image/png;base64,...">``. The script runs on ``load`` and records on
``<body>`` whether every image decoded: ``data-images-total``, ``data-images-loaded`` and ``data-images-ok``
(``"true"`` when every ``<img>`` has a natural width > 0), ``data-page-overflow-px`` (how far the page is wider
than the window, 0 when it fits) and ``data-tables-overflowing`` (shown tables that need their own horizontal
scroll; a full table folded in a closed ``<details>`` does not count) with ``data-tables-overflowing-heads`` (each
one's first header and its widths, to find it), so a headless browser can check the page.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
h3 { font-size: 1.1em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } td.text { text-align: left; white-space: normal; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.row figure { flex: 1 1 420px; max-width: 580px; }
p.missing { color: #8a4b00; background: #fff5e6; padding: 4px 8px; border-left: 3px solid #e0a040; }
pre { background: #f7f7f7; padding: 6px; font-size: 0.85em; overflow-x: auto; }
div.warning { color: #7a0000; background: #fdecea; padding: 6px 10px; border-left: 4px solid #c62828;
  margin: 0.8em 0; }
details { margin: 0.5em 0; } summary { cursor: pointer; color: #245; }
"""

#: sets data-images-* on <body> once every image has loaded (or failed to)
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.dataset.imagesTotal = String(imgs.length);
  document.body.dataset.imagesLoaded = String(ok);
  document.body.dataset.imagesOk = String(ok === imgs.length);
  var wide = Array.prototype.slice.call(document.querySelectorAll('.scroll')).filter(function (d) {
    // visible tables only: a full table folded in a closed <details> may scroll once opened
    return !d.closest('details:not([open])') && d.scrollWidth > d.clientWidth + 1; });
  document.body.dataset.pageOverflowPx = String(Math.max(0, document.documentElement.scrollWidth - window.innerWidth));
  document.body.dataset.tablesOverflowing = String(wide.length);
  document.body.dataset.tablesOverflowingHeads = wide.map(function (d) {
    var th = d.querySelector('th');
    return (th ? th.textContent : '?') + ' ' + d.scrollWidth + '>' + d.clientWidth; }).join(' | ');
});
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def esc(text: object) -> str:
    """``text`` as HTML-escaped markup (quotes included)."""
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    """A lowercase id made of letters, digits and dashes (``"device.n_mtj"`` -> ``"device-n-mtj"``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


class Page:
    """An HTML page built piece by piece; :meth:`render` gives the whole document as a string."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []
        self._ids: set[str] = set()

    @contextmanager
    def row(self) -> Iterator[None]:
        """Everything added inside the ``with`` block sits side by side (wrapping on narrow screens)."""
        self._parts.append('<div class="row">')
        try:
            yield
        finally:
            self._parts.append("</div>")

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{esc(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        self._parts.append(f"<p>{esc(text)}</p>")

    def missing(self, text: str) -> None:
        """A visible note that a piece of the report is absent or unreadable, and why."""
        self._parts.append(f'<p class="missing">{esc(text)}</p>')

    def warning(self, title: str, text: str) -> None:
        """A red box that cannot be overlooked (e.g. a volatile device): bold ``title`` then ``text``."""
        self._parts.append(f'<div class="warning" role="alert"><strong>{esc(title)}</strong> {esc(text)}</div>')

    @contextmanager
    def collapsed(self, summary: str) -> Iterator[None]:
        """Everything added inside the ``with`` block is folded under ``summary`` (``<details>``)."""
        self._parts.append(f"<details><summary>{esc(summary)}</summary>")
        try:
            yield
        finally:
            self._parts.append("</details>")

    def preformatted(self, text: str) -> None:
        self._parts.append(f"<pre>{esc(text)}</pre>")

    def bullets(self, items: Iterable[str]) -> None:
        self._parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]], text_cols: Iterable[int] = ()) -> None:
        """A table of escaped cells; columns in ``text_cols`` are left-aligned and may wrap."""
        left = set(text_cols)
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f'<td class="text">{esc(c)}</td>' if j in left else f"<td>{esc(c)}</td>"
                             for j, c in enumerate(row)) + "</tr>"
            for row in rows)
        self._parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")

    def figure(self, fig_id: str, png: bytes, alt: str, caption: str = "", axes: Sequence[str] = ()) -> str:
        """Embed the PNG bytes ``png`` as ``<figure id=fig_id>`` with alt text and a caption; returns the id
        (made unique on the page). ``axes``: the figure's axis labels (units included), kept on the element as
        ``data-axes`` (joined by `` | ``) so the page can be checked. ValueError if ``png`` is not a PNG."""
        if not png.startswith(PNG_SIGNATURE):
            raise ValueError(f"figure {fig_id}: not PNG data")
        uid, n = slug(fig_id), 2
        while uid in self._ids:
            uid, n = f"{slug(fig_id)}-{n}", n + 1
        self._ids.add(uid)
        data = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
        meta = f' data-axes="{esc(" | ".join(axes))}"' if axes else ""
        self._parts.append(f'<figure id="{uid}"><img src="data:image/png;base64,{data}" alt="{esc(alt)}"{meta}>'
                           f"{cap}</figure>")
        return uid

    def render(self) -> str:
        """The complete, self-contained HTML document."""
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{esc(self.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
                f"<h1>{esc(self.title)}</h1>\n" + "\n".join(self._parts)
                + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n")
