"""The report as a PDF beside the original's (``make pdf``): the same HTML, printed by Chromium.

Playwright (the ``browser`` extra) drives Chromium offline (:func:`pipeline.browser.chromium`). Folded detail
(``<details>``) is opened first, so the PDF holds every table; the page's print CSS (the report's
template) sets A4, a page break before each top-level section, and no figure or table row split.
"""

import sys
from pathlib import Path

from helpers.errors import UserError
from pipeline.browser import BrowserError, BrowserMissing, chromium


def write_pdf(html_path, pdf_path):
    """Print ``html_path`` to ``pdf_path`` (A4) and return the number of pages."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    if not html_path.is_file():
        raise UserError(f"no report at {html_path}; run `make report`")
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    try:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(html_path.as_uri(), wait_until="load")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            page.emulate_media(media="print")
            pdf_path.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(tmp), format="A4", print_background=True, prefer_css_page_size=True)
    except (BrowserMissing, BrowserError) as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"`make pdf`: {exc}") from None
    tmp.replace(pdf_path)
    return page_count(pdf_path.read_bytes())


def page_count(pdf):
    """Pages of a PDF as Chromium writes it (one ``/Type /Page`` object per page)."""
    return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m pipeline.pdf REPORT.html OUT.pdf", file=sys.stderr)
        return 2
    try:
        pages = write_pdf(*argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"PDF: {Path(argv[1]).resolve()} ({pages} pages, A4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
