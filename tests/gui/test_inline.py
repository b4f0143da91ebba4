"""matplotlib's inline backend over the wire: the kernel's default, one image per figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.gui.helpers import fails, ok, png_size, result
from tests.kernel_fixtures import outputs

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

INLINE = "'module://matplotlib_inline.backend_inline'"


def test_inline_is_the_default_backend(kernel: KernelHarness) -> None:
    """A fresh kernel shows plt.plot(...) as one PNG when the cell ends, with no magic."""
    assert result(kernel, "get_ipython().kernel.gui.active_name") == "'inline'"
    messages = ok(kernel, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]);")
    (figure,) = outputs(messages, "display_data")
    assert figure["data"]["text/plain"].startswith("<Figure size")
    width, height = png_size(figure["data"]["image/png"])
    assert width > height > 100
    assert result(kernel, "import matplotlib; matplotlib.get_backend()") == INLINE
    assert outputs(ok(kernel, "x = 1"), "display_data") == []  # the figure was closed


def test_plt_show_displays_once(kernel: KernelHarness) -> None:
    """%matplotlib inline, then plt.show() in the cell: one image, not a second at the end."""
    ok(kernel, "%matplotlib inline")
    messages = ok(kernel, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
    assert [list(c["data"]) for c in outputs(messages, "display_data")] == [
        ["text/plain", "image/png"]
    ]


def test_each_figure_of_a_cell_is_shown(kernel: KernelHarness) -> None:
    """Two figures drawn in one cell become two images, in order."""
    code = "import matplotlib.pyplot as plt\nfor n in (1, 2):\n    plt.figure(n)\n    plt.plot([n])"
    assert len(outputs(ok(kernel, code), "display_data")) == 2


def test_svg_and_retina_formats(kernel: KernelHarness) -> None:
    """InlineBackend.figure_formats switches to SVG, and retina doubles the PNG's pixels."""
    plot = "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2]);"
    try:
        ok(kernel, "%config InlineBackend.figure_formats = ['svg']")
        (svg,) = outputs(ok(kernel, plot), "display_data")
        assert "image/png" not in svg["data"]
        assert svg["data"]["image/svg+xml"].lstrip().startswith("<?xml")

        ok(kernel, "%config InlineBackend.figure_formats = ['png']")
        (plain,) = outputs(ok(kernel, plot), "display_data")
        ok(kernel, "%config InlineBackend.figure_formats = ['retina']")
        (retina,) = outputs(ok(kernel, plot), "display_data")
    finally:
        ok(kernel, "%config InlineBackend.figure_formats = ['png']")
    width, height = png_size(plain["data"]["image/png"])
    retina_width, retina_height = png_size(retina["data"]["image/png"])
    # Twice the pixels (give or take the tight bounding box's rounding), shown at half size.
    assert abs(retina_width - 2 * width) <= 4
    assert abs(retina_height - 2 * height) <= 4
    shown = {"width": retina_width // 2, "height": retina_height // 2}
    assert retina["metadata"]["image/png"] == shown


BROKEN_ARTIST = """
import matplotlib.pyplot as plt
from matplotlib.artist import Artist

class Broken(Artist):
    def draw(self, renderer):
        raise RuntimeError("this artist cannot be drawn")

plt.gca().add_artist(Broken())
"""


def test_a_figure_that_cannot_be_drawn_is_a_cell_error(kernel: KernelHarness) -> None:
    """Drawing fails after the cell's code ran: an error output, and the kernel goes on."""
    error = fails(kernel, BROKEN_ARTIST)
    assert error["ename"] == "RuntimeError"
    assert error["evalue"] == "this artist cannot be drawn"
    ok(kernel, "plt.close('all')")
    assert result(kernel, "1 + 1") == "2"
