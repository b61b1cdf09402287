"""The billing side: the Universal API hook, payload decoding and lenient models."""
