"""Task networks: plain ``nn.Module`` classes, no I/O, no Lightning (the CLI imports them)."""
