"""Context frames: the write boundary and read side, the queue, and generation."""
