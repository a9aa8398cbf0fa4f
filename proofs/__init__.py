"""CrossHair contract checks of the pure functions, their registry and runner."""
