"""One STaR round in the paper's order: generate, check, rationalize, store, train, evaluate.

rounds.py is the algorithm; each step has its own file. The loop declares the worker
handles it calls (context.py) and never imports workers/; it reaches the store only
through round_store.py and recorder.py.
"""
