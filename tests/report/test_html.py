"""The report's markdown subset rendered to one self-contained HTML page."""

from __future__ import annotations

import base64

from ganbench.report.html import to_html

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def test_headings_tables_lists_and_inline_markup(tmp_path):
    page = to_html("# Sweep `a<b`\n\n| rank | value |\n|---|---|\n| 1 | **hinge** |\n\n- item\n", tmp_path, "t & t")
    assert "<title>t &amp; t</title>" in page
    assert "<h1>Sweep <code>a&lt;b</code></h1>" in page
    assert "<table><tr><th>rank</th><th>value</th></tr><tr><td>1</td><td><strong>hinge</strong></td></tr></table>" in page
    assert "<p class='item'>item</p>" in page and "---" not in page


def test_images_are_inlined_so_the_page_stands_alone(tmp_path):
    (tmp_path / "plot.png").write_bytes(PNG)
    page = to_html("![curves](plot.png)", tmp_path, "t")
    assert f'<img alt="curves" src="data:image/png;base64,{base64.b64encode(PNG).decode()}">' in page
    assert "plot.png" not in page


def test_italics_render_and_lone_stars_stay(tmp_path):
    """The chance row's label, ``*uniform over the data's bounding box*``, showed its stars in every index.html."""
    page = to_html("| chance | *uniform over the box* (2500 points) |\n|---|---|\n| 2 * 3 | `*.yaml` |", tmp_path, "t")
    assert "<td>chance</td>" not in page and "<th><em>uniform over the box</em> (2500 points)</th>" in page
    assert "<td>2 * 3</td><td><code>*.yaml</code></td>" in page
