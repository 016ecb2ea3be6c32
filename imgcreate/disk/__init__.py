"""Partitioned disk images (appliance-creator): layout, ids, reproducible partitions and output formats."""
