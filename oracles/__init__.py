"""Plain, slow ports of what the harness computes fast (one output pixel, one prediction at a time): the
oracles that tests/ checks the harness against and benchmarks/ times it against. Neither the package nor the
benchmarks import tests/."""
