"""LLM providers: the protocol, its error classes, the clients and their registry."""
