"""HTTP-level middleware: request ids, compression, ETags and body limits."""
