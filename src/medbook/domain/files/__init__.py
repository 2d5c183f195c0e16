"""Files: the upload rules (types from the bytes, sizes, image dimensions)."""
