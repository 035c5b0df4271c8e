"""The patterns figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...render.plot import PALETTE, Writer, as_grid, head_axes, heat_size


def draw_patterns(w: Writer, data: dict) -> None:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    layers, heads = data["layers"], data["heads"]
    for o in w.take(data["sections"].get("patterns", [])):
        v = o["view"]
        colors = [PALETTE[i % 10] for i in range(len(v["types"]))]
        fig = w.figure(*heat_size(layers, heads))
        ax = fig.add_subplot()
        ax.set_gid("panel")
        ax.imshow(as_grid(v["dominant"], layers, heads), cmap=ListedColormap(colors), vmin=-0.5,
                  vmax=len(colors) - 0.5, aspect="auto")
        head_axes(ax, layers, heads)
        ax.set_title("most frequent pattern type per head")
        fig.legend(handles=[Patch(color=c, label=t) for c, t in zip(colors, v["types"])], loc="outside right upper",
                   frameon=False)
        w.save(fig, "patterns", "pattern types")
