"""The workspace's Merkle tree: canonical paths, hashing, the walker and the builder."""
