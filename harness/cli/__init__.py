"""The `samplegan` command line: the root group, shared options, one thin module per group.

A command here parses and checks its options, calls one function of a stage package
and prints its result. May import every `harness` package and `models`.
"""
