"""The workspace's Merkle tree: canonical paths, hashing, the walker, the builder
and the import map."""
