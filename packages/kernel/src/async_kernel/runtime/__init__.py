"""What runs cells needs from the process: context, interrupts, signals, sending, backends."""
