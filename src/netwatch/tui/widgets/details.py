"""The details of one connection: a title, a rate sparkline and a tree of every field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Tree
from textual.widgets.tree import TreeNode

from netwatch.model.snapshot import ConnectionView
from netwatch.tui import fmt
from netwatch.tui.details_data import Node, connection_tree
from netwatch.tui.widgets.bars import Bar


class TitleBar(Bar):
    """The one-line title of the details pane."""


class DetailsTree(Tree[str]):
    """Leaves carry their copyable value as node data."""

    def selected_value(self) -> str | None:
        node = self.cursor_node
        if node is None:
            return None
        return node.data


class DetailsView(Vertical):
    """Shows ``connection`` (set by the parent) and its rate history."""

    DEFAULT_CSS = """
    DetailsView { height: 1fr; }
    DetailsView > #details-title { height: 1; padding: 0 1; text-style: bold; }
    DetailsView > Sparkline { height: 2; margin: 0 1; }
    DetailsView > DetailsTree { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tree_nodes: tuple[Node, ...] | None = None
        self._conn_id: int | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(id="details-title")
        yield Sparkline([], id="details-spark")
        tree = DetailsTree("connection", id="details-tree")
        tree.show_root = False
        yield tree

    def show(
        self, view: ConnectionView | None, history: Sequence[float], gone: bool = False
    ) -> None:
        """``gone``: the connection left the table; its last known state is shown."""
        title = self.query_one("#details-title", TitleBar)
        spark = self.query_one("#details-spark", Sparkline)
        tree = self.query_one(DetailsTree)
        if view is None:
            title.set_content(Text("No connection selected (Enter on a row)"))
            spark.data = []
            if self._tree_nodes is not None:
                tree.clear()
                self._tree_nodes = None
                self._conn_id = None
            return
        local = fmt.endpoint(view.local_addr, view.local_port, view.proto, False)
        remote = fmt.remote_text(view, True, False)
        rate = (
            "no longer tracked" if gone else fmt.human_rate(view.rate_in + view.rate_out) or "idle"
        )
        heading = Text(f"{view.proto.upper()} {view.state} {rate}  {local} -> {remote}")
        heading.no_wrap = True
        heading.overflow = "ellipsis"
        title.set_content(heading)
        spark.data = list(history) or [0.0]
        nodes = connection_tree(view)
        if nodes == self._tree_nodes:
            return
        if (
            self._conn_id == view.id
            and self._tree_nodes is not None
            and _shape(nodes) == _shape(self._tree_nodes)
        ):
            # Same fields, new values (counters, rates): relabel the changed leaves in
            # place. Rebuilding the tree every frame would reset its scroll and cost a
            # full relayout of the pane.
            _relabel(tree.root.children, nodes, self._tree_nodes)
            self._tree_nodes = nodes
            return
        line = tree.cursor_line if self._conn_id == view.id else 0
        tree.clear()
        for node in nodes:
            self._add(tree.root, node)
        self._tree_nodes = nodes
        self._conn_id = view.id
        tree.cursor_line = max(0, line)

    def _add(self, parent: TreeNode[str], node: Node) -> None:
        if node.children:
            branch = parent.add(Text(node.label, style="bold"), data=None, expand=True)
            for child in node.children:
                self._add(branch, child)
        else:
            value = node.value or ""
            parent.add_leaf(_leaf_label(node), data=value)


def _leaf_label(node: Node) -> Text:
    return Text.assemble((f"{node.label}: ", "dim"), node.value or "")


def _shape(nodes: Sequence[Node]) -> tuple[object, ...]:
    """The tree's structure without its values."""
    return tuple((n.label, n.value is None, _shape(n.children)) for n in nodes)


def _relabel(widgets: Iterable[TreeNode[str]], new: Sequence[Node], old: Sequence[Node]) -> None:
    for widget, n, o in zip(widgets, new, old, strict=True):
        if n.children:
            _relabel(widget.children, n.children, o.children)
        elif n.value != o.value:
            widget.set_label(_leaf_label(n))
            widget.data = n.value or ""
