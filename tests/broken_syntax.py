"""An adapter module with a syntax error."""

class Broken(
