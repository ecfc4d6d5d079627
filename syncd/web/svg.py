"""The network map's layout, computed on the server.

Only numbers come out of here; the template draws them as inline SVG (every label
escaped) and the stylesheet colours them, light or dark. The layout is
force-directed (Fruchterman-Reingold) from a fixed start, so the same network always
gets the same picture; it is then fitted into the drawing's square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _fit(pos: list[list[float]], size: float, margin: float) -> None:
    """Scale and move ``pos`` into the square ``[margin, size - margin]`` (same aspect)."""
    xs, ys = [p[0] for p in pos], [p[1] for p in pos]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    scale = (size - 2 * margin) / span
    ox = margin + ((size - 2 * margin) - (max(xs) - min(xs)) * scale) / 2
    oy = margin + ((size - 2 * margin) - (max(ys) - min(ys)) * scale) / 2
    x0, y0 = min(xs), min(ys)
    for p in pos:
        p[0] = ox + (p[0] - x0) * scale
        p[1] = oy + (p[1] - y0) * scale


@dataclass(frozen=True, slots=True)
class Node:
    """A person on the map."""

    id: int
    name: str
    tier: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Edge:
    """A link between two people who appear together, with its weight."""

    x1: float
    y1: float
    x2: float
    y2: float
    weight: int
    width: float


def layout(
    people: list[dict], links: dict[tuple[int, int], int], size: float = 600.0, rounds: int = 150
) -> tuple[list[Node], list[Edge]]:
    """Place ``people`` (dicts with id, name, tier) so that linked ones sit together;
    the nodes and the edges between them."""
    n = len(people)
    if n == 0:
        return [], []
    index = {p["id"]: i for i, p in enumerate(people)}
    # Start on a golden-angle spiral: deterministic and evenly spread.
    pos = []
    for i in range(n):
        r = size * 0.45 * math.sqrt((i + 0.5) / n)
        a = i * 2.399963
        pos.append([size / 2 + r * math.cos(a), size / 2 + r * math.sin(a)])
    k = math.sqrt(size * size / n) * 0.5
    pairs = [(index[a], index[b], w) for (a, b), w in links.items() if a in index and b in index]
    top = max((w for _, _, w in pairs), default=1)
    temp = size / 10
    centre = size / 2
    for _ in range(rounds):
        disp = [[0.0, 0.0] for _ in range(n)]
        for i in range(n):
            xi, yi = pos[i]
            for j in range(i + 1, n):
                dx, dy = xi - pos[j][0], yi - pos[j][1]
                d2 = dx * dx + dy * dy or 0.01
                f = k * k / d2
                disp[i][0] += dx * f
                disp[i][1] += dy * f
                disp[j][0] -= dx * f
                disp[j][1] -= dy * f
        for i, j, w in pairs:
            dx, dy = pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]
            d = math.hypot(dx, dy) or 0.1
            f = d / k * (0.3 + 0.7 * w / top)
            disp[i][0] -= dx * f
            disp[i][1] -= dy * f
            disp[j][0] += dx * f
            disp[j][1] += dy * f
        for i in range(n):
            # gravity: unlinked people and small groups stay near the middle
            dx, dy = centre - pos[i][0], centre - pos[i][1]
            g = math.hypot(dx, dy) / k * 0.6
            disp[i][0] += dx * g
            disp[i][1] += dy * g
            d = math.hypot(*disp[i]) or 1.0
            step = min(d, temp)
            pos[i][0] += disp[i][0] / d * step
            pos[i][1] += disp[i][1] / d * step
        temp = max(temp * 0.97, 0.5)
    _fit(pos, size, margin=40.0)
    nodes = [
        Node(p["id"], p["name"], p["tier"], round(pos[i][0], 1), round(pos[i][1], 1))
        for i, p in enumerate(people)
    ]
    edges = [
        Edge(nodes[i].x, nodes[i].y, nodes[j].x, nodes[j].y, w, round(0.5 + 3.5 * w / top, 2))
        for i, j, w in sorted(pairs, key=lambda p: p[2])
    ]
    return nodes, edges
