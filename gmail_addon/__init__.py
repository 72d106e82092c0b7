"""The Gmail add-on: card builders (pure functions: data in, card JSON out)."""
