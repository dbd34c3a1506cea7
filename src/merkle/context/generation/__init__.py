"""Context Generate and the generation units (seed 001, C1-C3) behind one contract."""
