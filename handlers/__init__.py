"""Lambda entry points: one module per function in infra/template.yaml.

Each module pauses Python's cyclic garbage collector on its first line and, once set up, freezes
what it made (`gc.freeze`) and resumes collection. A cold start's imports make some seventy
thousand objects (modules, classes, functions, the SDKs' tables) that live as long as the
process; left running, the collector walks them again and again while they are made (about
ninety collections, 11 to 13 ms of a cold start), and once frozen, no later collection walks
them. The price: the few cycles the imports leave as garbage (a fraction of a megabyte) are
kept, once per process.
"""
