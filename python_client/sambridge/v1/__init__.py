"""Generated gRPC stubs of the SAMBridge v1 protocol (do not edit)."""
