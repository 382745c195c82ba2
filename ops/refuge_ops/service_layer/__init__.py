"""What each command does, over a broker gateway and the pure domain."""
