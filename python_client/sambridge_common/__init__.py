"""Definitions the client and the server share, free of gRPC, protobuf and torch.

The server's engine may import this package (never the ``sambridge`` client package), and the
client may import it (never the server).
"""

from sambridge_common.content_id import image_id

__all__ = ["image_id"]
