"""The upstream simulator: regional status endpoints to poll in demos, tests and benchmarks.

``payload`` generates the documents (pure code), ``faults`` describes what can go wrong,
``server`` serves both over real HTTP.
"""
