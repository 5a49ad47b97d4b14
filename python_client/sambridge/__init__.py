"""SAMBridge Python client: Segment Anything for microscopy over gRPC.

>>> from sambridge import Client
>>> with Client("127.0.0.1:50051") as client:
...     mask = client.segment(image, box=(10, 20, 60, 80))
"""

from sambridge.client import Client, SamBridgeError

__all__ = ["Client", "SamBridgeError"]
__version__ = "0.1.0"
