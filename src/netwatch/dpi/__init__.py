"""Application-layer analyzers: sans-IO, bytes and a timestamp in, frozen events out."""
