"""The real-time loop: capture threads -> frame board -> inference workers -> output dispatcher."""
