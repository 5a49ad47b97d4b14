"""SAMBridge server: Segment Anything for microscopy over gRPC."""

__version__ = "0.1.0"
