"""The report as a reader's screen shows it: its height, anything wider than the screen, links that land nowhere.

``make layout-check`` (CI runs it) opens the rendered report in Chromium through Playwright (the
``browser`` extra), offline, at 390, 800, 1024 and 1280 px wide, and prints one line per width: the page's height,
the widest element and whether it fits, the contents links and "section x.y" references that resolve,
the images that decode. It fails when an element is wider than the viewport, a link lands nowhere or
an image does not decode. It then opens the run pages the report links to (``runs/*.html``) and checks
that each page, the report included, carries the Content-Security-Policy of
:data:`pipeline.render.CONTENT_SECURITY_POLICY`, that every image decodes under it, that the
console shows no error (a blocked script, image or request is one), and that no request leaves the machine
(every one is recorded, until the network has been idle for half a second, then refused).
"""

import contextlib
import sys
from pathlib import Path

from helpers.errors import UserError
from pipeline.browser import BrowserError, BrowserMissing, chromium, is_local

#: Runs in the page: height, elements wider than the viewport, internal links without a target, images
#: that did not decode.
MEASURE_JS = r"""
() => {
  const vw = window.innerWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').filter(Boolean).slice(0, 2).join('.') : '');
  // An element inside a box that scrolls sideways is reached by scrolling that box: it counts as the box.
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const inScroller = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
                               if (scrolls(p)) return true;
                             return false; };
  let widest = null, widestRight = 0, scrolling = 0;
  const over = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (scrolls(el) && el.scrollWidth > el.clientWidth + 1) scrolling++;
    if (inScroller(el)) continue;
    if (r.right > widestRight) { widestRight = r.right; widest = describe(el); }
    if (r.right > vw + 1) over.push(describe(el) + ' ' + Math.round(r.right) + ' px');
  }
  const anchors = [...document.querySelectorAll('a[href^="#"]')].map(a => decodeURIComponent(a.getAttribute('href').slice(1)));
  const broken = anchors.filter(id => id && !document.getElementById(id));
  // "section x.y" in the text that is not a link to an element (pipeline.crossref links each one)
  const unlinked = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('h1, h2, h3, h4, h5, h6, code, pre, script, style')) continue;
    const found = node.textContent.match(/\bsections?\s+\d+(\.\d+)*/gi);
    if (!found) continue;
    const link = parent.closest('a[href^="#"]');
    if (!link || !document.getElementById(decodeURIComponent(link.getAttribute('href').slice(1))))
      unlinked.push(...found);
  }
  const references = document.querySelectorAll('a.section-ref').length;
  // every fold holds its content: opened, it grows (a fold whose content sits after it opens to nothing)
  const folds = [...document.querySelectorAll('details')];
  const empty = [];
  for (const d of folds) {
    const was = d.open;
    d.open = false;
    const closed = d.getBoundingClientRect().height;
    d.open = true;
    if (d.getBoundingClientRect().height <= closed + 1)
      empty.push((d.querySelector('summary') || d).textContent.trim().slice(0, 60));
    d.open = was;
  }
  const undecoded = [...document.images].filter(img => !(img.complete && img.naturalWidth > 0)).length;
  const policy = document.head.querySelector('meta[http-equiv="Content-Security-Policy" i]');
  return {height: document.documentElement.scrollHeight, scrolling: scrolling, pageWidth: document.documentElement.scrollWidth, viewport: vw,
          policy: policy ? policy.content : null,
          widest: widest, widestRight: Math.round(widestRight), over: over.slice(0, 5), overCount: over.length,
          anchors: anchors.length, broken: broken, references: references, unlinked: unlinked.slice(0, 5),
          unlinkedCount: unlinked.length, images: document.images.length, undecoded: undecoded,
          folds: folds.length, emptyFolds: empty};
}
"""


#: A phone, a narrow window, a small laptop, a desktop.
WIDTHS = (390, 800, 1024, 1280)


def measure(html_path, widths=WIDTHS, browser=None):
    """:data:`MEASURE_JS` at each width, the report opened offline (no request leaves the machine), in ``browser``
    (None: a Chromium of its own)."""
    html_path = _report(html_path)
    with _given_or_own(browser) as browser:
        return {width: _open(browser, html_path, width) for width in widths}


def _report(html_path):
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise UserError(f"no report at {html_path}; run `make report`")
    return html_path


@contextlib.contextmanager
def _given_or_own(browser):
    if browser is not None:
        yield browser
        return
    with chromium() as own:
        yield own


def _open(browser, html_path, width):
    """:data:`MEASURE_JS` of the page at ``html_path`` opened offline at ``width``, with ``consoleErrors`` (the
    console's errors and uncaught exceptions) and ``external`` (the requests that would have left the machine)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, external = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: None if is_local(request.url) else external.append(request.url))
    page.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
    # "networkidle": no request for 500 ms after the load event, so that a script's late request is seen
    try:
        page.goto(Path(html_path).resolve().as_uri(), wait_until="networkidle")
        result = page.evaluate(MEASURE_JS)
    finally:
        page.close()
    return {**result, "consoleErrors": errors, "external": external}


def run_pages(html_path):
    """The run pages the report links to (``runs/*.html`` beside it), sorted."""
    from helpers.pages import RUNS_DIR

    return sorted((Path(html_path).parent / RUNS_DIR).glob("*.html"))


def check_pages(paths, width=1280, browser=None):
    """Each page's policy, console errors, requests and undecoded images: page path -> :func:`policy_problems`."""
    with _given_or_own(browser) as browser:
        return {path: policy_problems(_open(browser, path, width)) for path in paths}


def policy_problems(m, images=True):
    """What a page's script-free, offline policy fails: the policy missing or another, a request that would leave
    the machine, console errors, and (with ``images``) images that do not decode under it."""
    from pipeline.render import CONTENT_SECURITY_POLICY

    out = []
    if m["policy"] != CONTENT_SECURITY_POLICY:
        out.append("no Content-Security-Policy" if m["policy"] is None else f"another Content-Security-Policy: {m['policy']!r}")
    if m["external"]:
        out.append(f"{len(m['external'])} requests would leave the machine, e.g. {m['external'][0][:200]}")
    if m["consoleErrors"]:
        out.append(f"{len(m['consoleErrors'])} console errors, e.g. {m['consoleErrors'][0][:200]!r}")
    if images and m["undecoded"]:
        out.append(f"{m['undecoded']} images do not decode")
    return out


def problems(m):
    """What fails the check at one width."""
    out = []
    if m["overCount"]:
        out.append(f"{m['overCount']} elements wider than the {m['viewport']} px viewport, e.g. {m['over'][0]}")
    if m["broken"]:
        out.append(f"{len(m['broken'])} links land nowhere, e.g. #{m['broken'][0]}")
    if m["unlinkedCount"]:
        out.append(f"{m['unlinkedCount']} \"section x.y\" references are not links to a section, e.g. {m['unlinked'][0]!r}")
    if m["undecoded"]:
        out.append(f"{m['undecoded']} images do not decode")
    if m["emptyFolds"]:
        out.append(f"{len(m['emptyFolds'])} of {m['folds']} folds open to nothing, e.g. {m['emptyFolds'][0]!r}")
    return out + policy_problems(m, images=False)


def main(argv=None, browser=None):
    """Check the report named in ``argv`` and its run pages in ``browser`` (None: one Chromium of its own, for the
    report at every width and for the run pages); print a line per width and one for the run pages."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pipeline.layout_check REPORT.html", file=sys.stderr)
        return 2
    try:
        html_path = _report(argv[0])
        pages = run_pages(html_path)
        with _given_or_own(browser) as browser:
            results = measure(html_path, browser=browser)
            checked = check_pages(pages, browser=browser)
    except (UserError, BrowserMissing, BrowserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = False
    for width, m in results.items():
        found = problems(m)
        failed |= bool(found)
        print(f"layout at {width} px: page {m['height']} px tall, widest element {m['widest']} to {m['widestRight']} px; "
              f"{m['scrolling']} boxes scroll sideways (each with its edge shadow); {m['anchors']} internal links ({m['references']} \"section x.y\" references) resolve: "
              f"{'no' if m['broken'] or m['unlinkedCount'] else 'all'}; {m['images']} images; {m['folds'] - len(m['emptyFolds'])} of {m['folds']} folds open to their content"
              + ("; " + "; ".join(found) if found else "; fits"))
    for path, found in checked.items():
        if found:
            print(f"run page {path.name}: " + "; ".join(found))
    bad = sum(map(bool, checked.values()))
    failed |= bool(bad)
    print(f"policy of the {len(pages)} run pages (no script, no network, no frames; every image shown; no console "
          f"error): {f'{bad} fail' if bad else 'all pass'}; the report's is checked at each width above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
