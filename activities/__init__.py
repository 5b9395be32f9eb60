"""Activity plugins: the API plugin authors import, and the built-in channels."""

from .plugin import ENTRY_POINT_GROUP, ChannelPlugin, OutboundMessage, Receipt, RenderedMessage, discover

__all__ = ["ENTRY_POINT_GROUP", "ChannelPlugin", "OutboundMessage", "Receipt", "RenderedMessage", "discover"]
