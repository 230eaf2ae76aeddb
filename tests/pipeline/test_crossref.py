"""Every "section x.y" of a rendered page becomes a link to its heading, and nothing else changes."""

import re

from pipeline.crossref import link_sections, section_ids

HEADINGS = ('<h2 id="1-Assignment-Report">1 Assignment Report</h2>'
            '<h3 id="1.1-Checking-the-gradients">1.1 Checking</h3>'
            '<h3 id="3.3-The-original\'s-claims,-checked">3.3 Claims</h3>'
            '<h4 id="Figure-1:-loss">Figure 1: loss</h4>')


def test_numbered_headings_give_their_ids_and_unnumbered_ones_none():
    assert section_ids(HEADINGS) == {"1": "1-Assignment-Report", "1.1": "1.1-Checking-the-gradients",
                                     "3.3": "3.3-The-original's-claims,-checked"}


def test_a_reference_in_text_links_to_its_heading_with_the_id_escaped():
    out = link_sections(HEADINGS + "<p>as measured (section 3.3).</p>")
    assert out.endswith('<p>as measured (<a class="section-ref" href="#3.3-The-original\'s-claims,-checked">'
                        'section 3.3</a>).</p>')
    quoted = link_sections('<h2 id="4-A-&quot;B&quot;-&amp;-C">4</h2><p>section 4</p>')
    assert quoted.endswith('<a class="section-ref" href="#4-A-&quot;B&quot;-&amp;-C">section 4</a></p>')


def test_each_number_of_a_plural_reference_is_its_own_link():
    out = link_sections(HEADINGS + "<p>Sections 1.1 and 1 follow it, section 1 or 1.1.</p>")
    assert out.endswith('<p><a class="section-ref" href="#1.1-Checking-the-gradients">Sections 1.1</a> and '
                        '<a class="section-ref" href="#1-Assignment-Report">1</a> follow it, '
                        '<a class="section-ref" href="#1-Assignment-Report">section 1</a> or '
                        '<a class="section-ref" href="#1.1-Checking-the-gradients">1.1</a>.</p>')


def test_tags_links_headings_code_scripts_and_unknown_numbers_stay_as_they_are():
    body = ('<img alt="see section 1.1"><a href="#x">section 1.1</a><code>section 1.1</code>'
            '<pre><code>section 1.1</code> section 1</pre><script>if (a<b) { s = "section 1.1"; }</script>'
            '<style>p::after { content: "section 1" }</style><p>section 9.9, section 1.1</p>')
    out = link_sections(HEADINGS + body)
    assert out.startswith(HEADINGS)
    assert out[len(HEADINGS):] == body.replace(
        "section 9.9, section 1.1</p>",
        'section 9.9, <a class="section-ref" href="#1.1-Checking-the-gradients">section 1.1</a></p>')


def test_a_page_without_numbered_headings_is_returned_unchanged():
    assert link_sections("<p>section 1.1</p>") == "<p>section 1.1</p>"


def test_numbers_a_line_could_break_inside_are_kept_whole_and_nothing_else_changes():
    from pipeline.crossref import keep_numbers_whole

    page = ('<p title="-3 e-09">gW 4.95e-09, 0.392 ± 0.006, 0.38–0.40 and -0.5; 12 of 24, 0.3954, lam0_eta0.1</p>'
            '<h2 id="x">1e-5</h2><code>2e-3</code><style>a { margin: -1px }</style>')
    out = keep_numbers_whole(page)
    whole = re.findall(r'<span class="num">(.*?)</span>', out)
    assert whole == ["4.95e-09", "0.392 ± 0.006", "0.38–0.40", "-0.5"]
    assert re.sub(r'</?span[^>]*>', "", out) == page      # only wrapped: the text, tags and attributes as they were
