"""Running commands on the host: the one command runner, held-back signals, loop devices and mounts."""
