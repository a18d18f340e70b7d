"""Reading a functional model's graph from its public config."""

from __future__ import annotations

from typing import Any


def inbound_layer_names(layer_config: dict[str, Any]) -> set[str]:
    """Names of the layers whose outputs feed the layer of `layer_config` (one entry of
    a functional model's `get_config()["layers"]`, which lists layers in topological
    order), read from its `inbound_nodes`."""

    def walk(node: Any) -> set[str]:
        if isinstance(node, dict):
            config = node.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            found = {history[0]} if history else set()
            return found.union(*(walk(v) for v in node.values()))
        if isinstance(node, (list, tuple)):
            return set().union(*(walk(v) for v in node))
        return set()

    return walk(layer_config.get("inbound_nodes", []))
