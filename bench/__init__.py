"""`make bench`: cold init, warm overhead, the naive way, connection discipline, sizes and
audit throughput, measured side by side in one run. Prints figures; never fails on them."""
