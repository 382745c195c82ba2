"""Pure decoding and formatting: records in, text out, no I/O."""
