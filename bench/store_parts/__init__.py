"""The parts of bench/store.py: the rows it stores (rows.py), what it times (measures.py), its table (table.py)."""
